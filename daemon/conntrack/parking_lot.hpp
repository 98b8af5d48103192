// A queue's packets that wait for the kernel's answer about their connection
// (kernel_lookup.hpp), so that the queue goes on with other packets meanwhile
// (NFQUEUE takes a verdict later, by packet id). A connection with a packet
// parked holds its later packets back too: they are resumed after it, in the
// order they arrived, and never overtake it. An answer that takes longer than
// the patience is abandoned (counted by the lookup) and the connection's
// packets are decided from the table, as when the budget for asking is spent.
//
// One per queue worker, which feeds it every packet's question and resumes
// what it releases; not thread-safe. Pure: the clock is the caller's.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "conntrack/flow.hpp"
#include "conntrack/kernel_lookup.hpp"
#include "conntrack/tracker.hpp"
#include "conntrack/tuple.hpp"

namespace verdictd {

template <class Packet>
class ParkingLot {
 public:
  using Ticket = KernelLookup::Ticket;

  ParkingLot(KernelLookup& kernel, std::chrono::milliseconds patience)
      : kernel_(&kernel), patience_(patience) {}

  // Keeps the packet (`make()`: what to keep; the queue's buffer is reused)
  // when its connection has packets parked, or is unknown and the kernel was
  // asked about it now; true then. false: decide the packet now (`make` was
  // not called).
  template <class Make>
  bool park(const ConnectionQuestion& question, ConntrackTime now, Make&& make) {
    if (Lane* lane = lane_of(question.connection)) {
      lane->push_back(make());
      return true;
    }
    if (!question.unknown) return false;
    const auto ticket = kernel_->ask(question.connection);
    if (!ticket) return false;
    lanes_[question.connection].push_back(make());
    by_ticket_[*ticket] = question.connection;
    waiting_.emplace_back(now + patience_, *ticket);
    return true;
  }

  // Hands each packet whose connection the kernel answered about, or whose
  // wait outlasted the patience, to `resume(Packet&&)`: connection by
  // connection, each one's packets in arrival order.
  template <class Resume>
  void resume(ConntrackTime now, Resume&& resume) {
    answered_.clear();
    kernel_->collect(answered_);
    for (const Ticket ticket : answered_) release(ticket, resume);
    while (!waiting_.empty() && waiting_.front().first <= now) {
      const Ticket ticket = waiting_.front().second;
      waiting_.pop_front();
      if (by_ticket_.contains(ticket)) {
        kernel_->abandon(ticket);
        release(ticket, resume);
      }
    }
    // Questions answered in time leave their place in the deadline order.
    while (!waiting_.empty() && !by_ticket_.contains(waiting_.front().second)) {
      waiting_.pop_front();
    }
  }

  // When the oldest question runs out of patience; nullopt when none waits.
  [[nodiscard]] std::optional<ConntrackTime> deadline() const {
    if (waiting_.empty()) return std::nullopt;
    return waiting_.front().first;
  }
  [[nodiscard]] bool empty() const { return lanes_.empty(); }

 private:
  using Lane = std::vector<Packet>;  // one connection's packets, in arrival order

  // The lane of the connection holding `connection` in either direction.
  Lane* lane_of(const Tuple& connection) {
    if (lanes_.empty()) return nullptr;
    if (const auto found = lanes_.find(connection); found != lanes_.end()) return &found->second;
    const auto reply = reply_tuple(connection);
    if (!reply) return nullptr;
    const auto found = lanes_.find(*reply);
    return found == lanes_.end() ? nullptr : &found->second;
  }

  template <class Resume>
  void release(Ticket ticket, Resume& resume) {
    const auto asked = by_ticket_.find(ticket);
    if (asked == by_ticket_.end()) return;  // abandoned already
    const auto lane = lanes_.find(asked->second);
    by_ticket_.erase(asked);
    Lane packets = std::move(lane->second);
    lanes_.erase(lane);
    for (Packet& packet : packets) resume(std::move(packet));
  }

  KernelLookup* kernel_;
  std::chrono::milliseconds patience_;
  std::unordered_map<Tuple, Lane, TupleHash> lanes_;  // by the tuple asked about
  std::unordered_map<Ticket, Tuple> by_ticket_;
  std::deque<std::pair<ConntrackTime, Ticket>> waiting_;  // deadlines, in the order asked
  std::vector<Ticket> answered_;
};

}  // namespace verdictd
