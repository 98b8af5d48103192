// Decides each packet's connection state as the kernel's conntrack does
// (nf_conntrack_core.c and nf_conntrack_proto_{tcp,udp,icmp,icmpv6}.c), and
// keeps the flow table current with what the queues see.
#pragma once

#include <functional>
#include <optional>
#include <utility>

#include "conntrack/expectations.hpp"
#include "conntrack/flow.hpp"
#include "conntrack/flow_table.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// What must be settled before a packet is tracked (Tracker::question).
struct ConnectionQuestion {
  // The connection that decides the packet, as the packet carries it (an
  // ICMP error: the one it quotes, turned around). Packets of one connection
  // are decided in the order they arrived.
  Tuple connection;
  // The table has no such connection, and the packet may continue one the
  // kernel has while its NEW event is still on its way: ask the kernel
  // (kernel_lookup.hpp) before tracking the packet.
  bool unknown = false;
};

class Tracker {
 public:
  // The kernel is never asked from here: a packet whose connection the
  // kernel may know is held back until it was (question) and then tracked
  // from what the table holds.
  // Waits until the conntrack events the kernel has sent so far are
  // applied, or a short bound passed, and says whether any were pending
  // (the daemon's: ConntrackMirror::await_events).
  using AwaitEvents = std::function<bool()>;

  // `await_events`, when given, is called when a connection's first packet
  // finds no expectation: the kernel's helper made the expectation before
  // the packet that told the peer of it, but its event may be unread.
  Tracker(FlowTable& flows, Expectations& expectations, AwaitEvents await_events = {})
      : flows_(&flows), expectations_(&expectations), await_events_(std::move(await_events)) {}

  // Before the hook runs, where the packet will be tracked: the connection
  // that decides it, and whether the kernel must be asked about it first;
  // nullopt when no connection decides it (untracked, INVALID). Changes nothing.
  [[nodiscard]] std::optional<ConnectionQuestion> question(const PacketView& packet,
                                                           const PacketConntrack& ct) const;

  // At PREROUTING and OUTPUT, where the kernel's conntrack runs (after raw):
  // classifies the packet, creates or advances its flow, refreshes its
  // timeout and counters, and fills `ct` (state, direction, a copy of the
  // flow). `ct.now` is the time to use; `ct.notrack` set means UNTRACKED.
  void track(const PacketView& packet, PacketConntrack& ct);

  // At INPUT, FORWARD and POSTROUTING: the state the tracking hook gave this
  // packet, changing nothing.
  void recall(const PacketView& packet, PacketConntrack& ct) const;

  // After the packet was dropped: a first packet takes the flow it created,
  // not yet confirmed by the kernel, with it (the kernel's unconfirmed entry
  // dies with its packet).
  void dropped(const PacketConntrack& ct);

 private:
  FlowTable* flows_;
  Expectations* expectations_;
  AwaitEvents await_events_;
};

}  // namespace verdictd
