// One NFQUEUE queue and the thread that owns its netlink socket: receives
// packets, asks the handler for a decision, and sends verdicts in batches
// (many verdict messages in one sendmsg).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <thread>

#include "ruleset/hooks.hpp"

namespace verdictd {

struct QueuedPacket {
  std::uint32_t id = 0;
  std::span<const std::uint8_t> payload;  // from the network header on
  std::uint32_t original_length = 0;      // the packet's length; payload may be shorter
  std::uint32_t mark = 0;
  std::uint32_t in_ifindex = 0;   // 0 when the hook has none
  std::uint32_t out_ifindex = 0;  // 0 when the hook has none
  bool checksum_not_ready = false;  // NFQA_SKB_CSUMNOTREADY: L4 checksum is partial
};

struct PacketDecision {
  bool accept = true;
  std::uint32_t mark = 0;
  bool set_mark = false;  // send NFQA_MARK with the verdict
};

using PacketHandler = std::function<PacketDecision(const QueuedPacket&)>;

struct QueueOptions {
  std::uint16_t queue_number = 0;
  std::uint32_t max_length = 4096;  // kernel queue length; receive buffer sized from it
  bool accept_when_full = false;    // NFQA_CFG_F_FAIL_OPEN
  std::size_t batch = 64;           // packets read before their verdicts are sent
};

struct QueueStats {
  std::uint64_t packets = 0;
  std::uint64_t accepted = 0;
  std::uint64_t dropped = 0;
  std::uint64_t enobufs = 0;  // receive overruns: the kernel dropped (or bypassed) packets
  std::uint64_t batches = 0;
};

class QueueWorker {
 public:
  QueueWorker(QueueOptions options, Hook hook, PacketHandler handler);
  ~QueueWorker();
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;
  QueueWorker(QueueWorker&&) = delete;
  QueueWorker& operator=(QueueWorker&&) = delete;

  // Binds the queue and starts the thread. Throws std::runtime_error with a
  // one-line reason ("queue 3 is already in use by another process").
  void start();
  // Answers every packet still queued, then closes the socket and joins.
  void stop();

  [[nodiscard]] QueueStats stats() const;
  [[nodiscard]] std::uint16_t queue_number() const { return options_.queue_number; }
  [[nodiscard]] Hook hook() const { return hook_; }
  // True when the worker has held a packet for longer than `limit` without
  // answering: the queue is stuck and the kernel will hold it forever.
  [[nodiscard]] bool stalled(std::chrono::steady_clock::time_point now,
                             std::chrono::milliseconds limit) const;

 private:
  void run();

  QueueOptions options_;
  Hook hook_;
  PacketHandler handler_;
  struct Socket;
  std::unique_ptr<Socket> socket_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  // steady_clock ticks when the current batch started; 0 while waiting in recv.
  std::atomic<std::int64_t> busy_since_{0};
  std::atomic<std::uint64_t> packets_{0}, accepted_{0}, dropped_{0}, enobufs_{0}, batches_{0};
};

}  // namespace verdictd
