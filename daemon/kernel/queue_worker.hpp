// One NFQUEUE queue and the thread that owns its netlink socket: receives
// packets, asks the handler for a decision, and sends verdicts in batches
// (many verdict messages in one sendmsg). A packet whose connection must
// first be asked of the kernel is parked (conntrack/parking_lot.hpp) and
// answered later, by its id, while the thread goes on with the others.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>

#include "conntrack/kernel_lookup.hpp"
#include "conntrack/parking_lot.hpp"
#include "conntrack/tracker.hpp"
#include "packet/hooks.hpp"
#include "packet/link_header.hpp"
#include "packet/log_line.hpp"

namespace verdictd {

struct QueuedPacket {
  std::uint32_t id = 0;
  std::span<const std::uint8_t> payload;  // from the network header on
  std::uint32_t original_length = 0;      // the packet's length; payload may be shorter
  std::uint32_t mark = 0;
  std::uint32_t in_ifindex = 0;     // 0 when the hook has none
  std::uint32_t out_ifindex = 0;    // 0 when the hook has none
  bool checksum_not_ready = false;  // NFQA_SKB_CSUMNOTREADY: L4 checksum is partial
  // NFQA_SKB_CSUM_NOTVERIFIED: nobody has checked the L4 checksum yet.
  bool checksum_unverified = false;
  // NFQA_UID, NFQA_GID: the packet belongs to a local socket.
  std::optional<SocketOwner> socket_owner;
  // NFQA_HWADDR when six bytes: the sender's link-layer address, for a packet
  // that came in on a device and still has the header it came with.
  std::optional<MacAddress> source_mac;
};

struct PacketDecision {
  bool accept = true;
  std::uint32_t mark = 0;
  bool set_mark = false;  // send NFQA_MARK with the verdict
  // NF_REPEAT instead of NF_ACCEPT: the packet runs the hook again from its
  // first table, where the steering rules act on the mark it now carries.
  bool repeat = false;
  // A changed packet to hand back (NAT), from the network header; empty: the
  // packet is unchanged. The kernel takes it as fully checksummed. It must
  // stay valid until the handler is called again.
  std::span<const std::uint8_t> payload;
};

// What a queue does with its packets.
struct PacketHandler {
  // Before deciding a packet: the connection that decides it and whether the
  // kernel must be asked about it first (Tracker::question); nullopt when no
  // connection does. Used only by a worker given a KernelLookup; may be empty.
  std::function<std::optional<ConnectionQuestion>(const QueuedPacket&)> question;
  std::function<PacketDecision(const QueuedPacket&)> decide;
};

struct QueueOptions {
  std::uint16_t queue_number = 0;
  std::uint32_t max_length = 4096;  // kernel queue length; receive buffer sized from it
  bool accept_when_full = false;    // NFQA_CFG_F_FAIL_OPEN
  std::size_t batch = 64;           // packets read before their verdicts are sent
  // Bytes of each packet copied to userspace (the kernel caps it at 0xffff - 4).
  // Headers are enough to evaluate; a small range is much cheaper for GSO TCP.
  std::uint32_t copy_range = 0xffff;
  // Socket receive buffer in bytes; 0 sizes it from max_length.
  std::size_t receive_buffer = 0;
  // How long a packet waits for the kernel's answer about its connection
  // before it is decided without it (counted: fetch_timeouts).
  std::chrono::milliseconds kernel_patience{500};
};

struct QueueStats {
  std::uint64_t packets = 0;
  std::uint64_t accepted = 0;
  std::uint64_t dropped = 0;
  std::uint64_t enobufs = 0;         // receive overruns reported (each may cover many packets)
  std::uint64_t batches = 0;         // sendmsg calls carrying verdicts
  std::uint64_t verdict_errors = 0;  // verdicts the kernel refused (packet stays queued)
  // The kernel's own counts while the queue is bound (/proc/net/netfilter/nfnetlink_queue):
  std::uint64_t kernel_full_drops = 0;     // dropped because the queue was full
  std::uint64_t kernel_overrun_drops = 0;  // dropped because the receive buffer was full
  std::uint64_t kernel_waiting = 0;        // sent to us or about to be, not yet answered
};

// Thrown by QueueWorker::start when another process holds the queue, such as
// a verdictd that is stopping and answers what its queues hold first.
class QueueInUse : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class QueueWorker {
 public:
  // `kernel`: where the worker asks about connections (may be null: every
  // packet is decided at once).
  QueueWorker(QueueOptions options, Hook hook, PacketHandler handler,
              std::unique_ptr<KernelLookup> kernel = nullptr);
  ~QueueWorker();
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;
  QueueWorker(QueueWorker&&) = delete;
  QueueWorker& operator=(QueueWorker&&) = delete;

  // Binds the queue and starts the thread. Throws std::runtime_error with a
  // one-line reason, QueueInUse for "queue 3 is already in use by another
  // process ...".
  void start();
  // Answers every packet the queue's socket holds, then unbinds (the kernel
  // drops what an unbound queue still holds) and joins. Change the steering
  // first, so that nothing new is queued: see Steering::close.
  void stop();

  [[nodiscard]] QueueStats stats() const;
  [[nodiscard]] std::uint16_t queue_number() const { return options_.queue_number; }
  [[nodiscard]] Hook hook() const { return hook_; }
  // True when the worker has held a packet for longer than `limit` without
  // answering, has taken none for that long while the kernel holds packets
  // for it, could not send verdicts, or died on an error: the kernel holds the
  // queue's packets forever, so this is an outage.
  [[nodiscard]] bool stalled(std::chrono::steady_clock::time_point now,
                             std::chrono::milliseconds limit) const;
  // Why the worker thread ended early; empty while it runs normally.
  [[nodiscard]] std::string failure() const;

 private:
  struct Socket;
  // A packet waiting for the kernel, copied out of the receive buffer.
  struct ParkedPacket {
    QueuedPacket packet;  // its payload is `bytes`
    std::vector<std::uint8_t> bytes;
  };

  void run();
  // Waits for answers from the kernel or the parking lot's deadline, and
  // when `for_packets` for packets or stop too.
  void wait(bool for_packets);
  // Reads up to options_.batch packets without blocking and answers them with
  // one sendmsg; true when the batch was full (more are probably waiting).
  bool answer_burst();
  // Handles every netlink message of one datagram: packets get a verdict
  // queued; returns the error code (0 = ack) of the reply to `ack_sequence`.
  std::optional<int> dispatch(std::span<std::uint8_t> datagram, std::uint32_t ack_sequence);
  // True when the packet was parked to wait for the kernel.
  bool park(const QueuedPacket& packet);
  // Decides the packet and queues its verdict.
  void answer(const QueuedPacket& packet);
  // Answers the parked packets whose answer came or whose wait ran out.
  void resume_parked();
  void send_verdicts();
  void mark_busy();
  // The kernel has held packets for the queue for longer than `limit` while
  // the worker answered none: a worker stuck before it reads, which
  // busy_since_ cannot see.
  [[nodiscard]] bool kernel_waits_in_vain(std::chrono::steady_clock::time_point now,
                                          std::chrono::milliseconds limit) const;

  QueueOptions options_;
  Hook hook_;
  PacketHandler handler_;
  std::unique_ptr<KernelLookup> kernel_;
  std::unique_ptr<ParkingLot<ParkedPacket>> parked_;  // when kernel_ is set
  std::unique_ptr<Socket> socket_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint32_t> port_id_{0};  // netlink port of the bound socket; 0 when unbound
  // steady_clock ticks since the oldest unanswered packet arrived; 0 when none is held.
  std::atomic<std::int64_t> busy_since_{0};
  // Since when the kernel has held packets while packets_ stood at waiting_answered_.
  // Lock order: daemon/LOCKING.md.
  mutable std::mutex waiting_mutex_;
  mutable std::optional<std::chrono::steady_clock::time_point> waiting_since_;
  mutable std::uint64_t waiting_answered_ = 0;
  // Set once verdicts could not be sent or the thread died: packets are stuck for good.
  std::atomic<bool> broken_{false};
  std::string failure_;  // written by the worker before broken_ is set
  std::atomic<std::uint64_t> packets_{0}, accepted_{0}, dropped_{0}, enobufs_{0}, batches_{0},
      verdict_errors_{0};
};

}  // namespace verdictd
