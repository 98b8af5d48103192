// Decides each packet's connection state as the kernel's conntrack does
// (nf_conntrack_core.c and nf_conntrack_proto_{tcp,udp,icmp,icmpv6}.c), and
// keeps the flow table current with what the queues see.
#pragma once

#include <optional>

#include "conntrack/expectations.hpp"
#include "conntrack/flow.hpp"
#include "conntrack/flow_table.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// The kernel's own table, asked (a ctnetlink get) about a packet that misses
// ours while its connection's NEW event may still be on its way.
class KernelLookup {
 public:
  KernelLookup() = default;
  KernelLookup(const KernelLookup&) = delete;
  KernelLookup& operator=(const KernelLookup&) = delete;
  KernelLookup(KernelLookup&&) = delete;
  KernelLookup& operator=(KernelLookup&&) = delete;
  virtual ~KernelLookup() = default;
  // The kernel's connection holding `tuple` (either direction), already
  // merged into the flow table; nullopt when the kernel has none.
  virtual std::optional<Flow> fetch(const Tuple& tuple) = 0;
};

class Tracker {
 public:
  // `kernel` may be null (unit tests, or no ctnetlink): misses are then
  // decided without asking.
  Tracker(FlowTable& flows, Expectations& expectations, KernelLookup* kernel)
      : flows_(&flows), expectations_(&expectations), kernel_(kernel) {}

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
  KernelLookup* kernel_;
};

}  // namespace verdictd
