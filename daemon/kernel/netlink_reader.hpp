// One netlink "subscribe, dump, resync" loop (libmnl), shared by the caches
// that follow a kernel table: it subscribes to the table's groups first and
// then asks for a dump, so that no change between the two is missed; it
// follows the events on a thread of its own; and when events were lost (an
// overrun, ENOBUFS, or one too large to read) or the dump was interrupted
// (NLM_F_DUMP_INTR), it dumps again and lets the owner reconcile what it
// holds with the complete dump.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>

struct nlmsghdr;

namespace verdictd {

// What a reader subscribes to and dumps, and how it names them in errors.
struct NetlinkSubscription {
  int protocol = 0;             // NETLINK_ROUTE, ...
  unsigned groups = 0;          // multicast groups (RTMGRP_*)
  std::uint16_t dump_type = 0;  // RTM_GETLINK, ...
  // The family header after the netlink header (ifinfomsg, ifaddrmsg), sent
  // zeroed: every family (AF_UNSPEC).
  std::size_t dump_header = 0;
  std::string changes;   // "link changes": subscribing to them failed
  std::string table;     // "the links": dumping them failed
  std::string followed;  // "interface names are no longer followed"
};

// The owner's side; called on the reader's thread (and in start()).
struct NetlinkHandlers {
  // A new dump begins: forget what the last one collected.
  std::function<void()> dump_begins;
  // One message. `from_dump`: part of the running dump, to collect aside.
  // Otherwise an event; `also_dumped`: the running dump had begun reporting
  // before it, so it applies to what that dump collected too.
  std::function<void(const nlmsghdr& message, bool from_dump, bool also_dumped)> message;
  // The dump is complete: replace what the owner holds with what it
  // collected, telling what changed unseen.
  std::function<void()> dump_complete;
  // A datagram's messages were applied (may be empty).
  std::function<void()> applied;
};

class NetlinkReader {
 public:
  NetlinkReader(NetlinkSubscription subscription, NetlinkHandlers handlers);
  ~NetlinkReader();
  NetlinkReader(const NetlinkReader&) = delete;
  NetlinkReader& operator=(const NetlinkReader&) = delete;
  NetlinkReader(NetlinkReader&&) = delete;
  NetlinkReader& operator=(NetlinkReader&&) = delete;

  // Subscribes, dumps (complete when this returns) and follows the changes
  // on a thread. Throws std::system_error when the socket cannot be read.
  void start();
  void stop();

 private:
  struct Socket;

  void run();
  void request_dump();
  // Reads what is waiting on the socket (blocking when `wait`) and applies it.
  void receive(bool wait);
  void apply(std::span<const std::uint8_t> datagram);

  NetlinkSubscription subscription_;
  NetlinkHandlers handlers_;
  std::unique_ptr<Socket> socket_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace verdictd
