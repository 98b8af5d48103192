#include "nat/nat_binder.hpp"

#include "nat/port_choice.hpp"

namespace verdictd {

namespace {

bool in_range(const IpAddress& address, const NatRange& range) {
  return !range.has_addresses || (range.min_address <= address && address <= range.max_address);
}

bool has_ports(std::uint8_t protocol) {
  return protocol == ipproto::kTcp || protocol == ipproto::kUdp || protocol == ipproto::kUdplite ||
         protocol == ipproto::kSctp;
}

}  // namespace

bool NatBinder::bind(PacketConntrack& ct, std::uint8_t manip, const NatRange& range) {
  if (ct.has_flow && (ct.flow.nat_unknown & manip) != 0) {
    // A previous run may have bound this connection differently: a new
    // binding would send its packets from another address than before.
    note_unbound_drop();
    return false;
  }
  const bool bound = bind_unique(ct, manip, range);
  (bound ? bindings_ : exhausted_).fetch_add(1, std::memory_order_relaxed);
  return bound;
}

bool NatBinder::bind_unique(PacketConntrack& ct, std::uint8_t manip, const NatRange& range) {
  if (!ct.has_flow) return false;
  const Flow& flow = ct.flow;
  const bool source = manip == natmanip::kSource;
  const ManipSide side = source ? ManipSide::kSource : ManipSide::kDestination;
  // What the packet looks like after the manipulations bound so far.
  const auto current = reply_tuple(flow.reply);
  if (!current) return false;
  Tuple candidate = *current;
  IpAddress& address = source ? candidate.source : candidate.destination;
  const bool icmp = candidate.protocol == ipproto::kIcmp || candidate.protocol == ipproto::kIcmpv6;
  std::uint16_t& port = source || icmp ? candidate.source_port : candidate.destination_port;

  // Another connection's reply tuple already holds the answer to this one.
  const auto taken = [&](const Tuple& t) {
    const auto answer = reply_tuple(t);
    if (!answer) return true;
    bool other = false;
    flows_->find(*answer, ct.now, [&](const Flow& holder, Direction /*direction*/) {
      other = !(holder.original == flow.original);
    });
    return other;
  };

  if (range.netmap_prefix_length) {
    address = range.min_address;
  } else if (range.has_addresses &&
             (!source || range.random || range.random_fully || !in_range(address, range))) {
    address = choose_address(AddressRange{range.min_address, range.max_address}, flow.original,
                             side, range.persistent);
  }
  if (has_ports(candidate.protocol) || icmp) {
    PortChoice request;
    request.protocol = candidate.protocol;
    request.side = side;
    request.original = port;
    request.random = range.random || range.random_fully;
    if (range.has_ports) request.range = NatPortRange{range.min_port, range.max_port};
    const auto chosen = choose_port(request, [&](std::uint16_t p) {
      Tuple probe = candidate;
      (source || icmp ? probe.source_port : probe.destination_port) = p;
      return taken(probe);
    });
    if (!chosen) return false;
    port = *chosen;
  } else if (taken(candidate)) {
    return false;
  }

  const auto new_reply = reply_tuple(candidate);
  if (!new_reply || !flows_->rebind(flow.original, *new_reply, ct.now)) return false;
  const std::uint32_t changed =
      candidate == *current ? 0 : (source ? ctstatus::kSrcNat : ctstatus::kDstNat);
  const auto bound =
      flows_->note_binding(flow.original, manip, changed, range.masquerade_ifindex, ct.now);
  if (!bound) return false;
  ct.flow = *bound;
  return true;
}

void NatBinder::note_unbound_drop() { unbound_drops_.fetch_add(1, std::memory_order_relaxed); }

std::optional<IpAddress> NatBinder::masquerade_address(std::uint32_t out_ifindex,
                                                       const IpAddress& destination) const {
  return addresses_.masquerade ? addresses_.masquerade(out_ifindex, destination) : std::nullopt;
}

std::optional<IpAddress> NatBinder::redirect_address(std::uint32_t in_ifindex,
                                                     const IpAddress& destination) const {
  return addresses_.redirect ? addresses_.redirect(in_ifindex, destination) : std::nullopt;
}

}  // namespace verdictd
