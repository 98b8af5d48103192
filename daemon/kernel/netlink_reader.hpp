// One netlink "subscribe, dump, resync" loop (libmnl), shared by what
// follows a kernel table (the link and address caches, the conntrack
// mirror): it subscribes to the table's groups first and then asks for a
// dump, so that no change between the two is missed; it follows the events
// on a thread of its own; and when events were lost (an overrun, ENOBUFS, or
// one too large to read) or the dump was interrupted (NLM_F_DUMP_INTR), it
// dumps again and lets the owner reconcile what it holds with the complete
// dump. An owner with work of its own on that thread (timers, work handed
// over by wake()) has it called between reads (NetlinkHandlers::tick).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kernel/wakeup.hpp"

struct nlmsghdr;

namespace verdictd {

// What a reader subscribes to and dumps, and how it names them in errors.
struct NetlinkSubscription {
  int protocol = 0;     // NETLINK_ROUTE, NETLINK_NETFILTER
  unsigned groups = 0;  // multicast groups (RTMGRP_*, NF_NETLINK_CONNTRACK_*)
  // The tables dumped, one after another, as one dump (RTM_GETLINK; the
  // conntrack table, then its expectations).
  std::vector<std::uint16_t> dump_types;
  // The family header after the netlink header (ifinfomsg, ifaddrmsg,
  // nfgenmsg), sent zeroed: every family (AF_UNSPEC; NFNETLINK_V0).
  std::size_t dump_header = 0;
  // The socket's receive buffer: room for a burst of events while the owner
  // is busy. Forced past rmem_max where the process may (CAP_NET_ADMIN).
  int receive_buffer = 1 << 20;
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
  // Events were lost (may be empty); a dump follows.
  std::function<void()> events_lost;
  // The reader stopped on an error, which it logged (may be empty): the
  // table is no longer followed.
  std::function<void()> failed;
  // The owner's own work on the reader's thread (may be empty): called after
  // each datagram, after wake(), and when the wait it asked for is over;
  // `woken` tells that wake() was called. Returns how long the reader may
  // wait for messages before calling it again.
  std::function<std::chrono::milliseconds(bool woken)> tick;
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

  // Any thread: has the reader's thread call tick(true) soon.
  void wake() const { woken_.signal(); }
  // The reader's thread (a handler): dumps again, unless a dump runs.
  void dump_again();
  // Any thread: whether every message the kernel queued until now has been
  // applied: no dump runs, the thread is not reading, and the socket holds
  // nothing, not even an error. False before start().
  [[nodiscard]] bool caught_up() const;

 private:
  struct Socket;

  void run();
  // Starts a dump from its first table.
  void request_dump();
  // Asks for the table dump_types[table_index].
  void request_table(std::size_t table_index);
  // Reads one datagram from the socket (blocking when `wait`) and applies
  // it; false when there was none.
  bool receive(bool wait);
  void apply(std::span<const std::uint8_t> datagram);

  NetlinkSubscription subscription_;
  NetlinkHandlers handlers_;
  std::unique_ptr<Socket> socket_;
  Wakeup woken_;
  // Odd while the thread reads and applies a datagram; each read adds two.
  std::atomic<std::uint64_t> reading_{0};
  // Socket::dumping, for other threads; true also before start and after stop.
  std::atomic<bool> dumping_{true};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace verdictd
