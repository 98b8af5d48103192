// Choosing the mapped address and port of a new NAT connection the way the
// kernel does (nf_nat_core.c: find_best_ips_proto and
// nf_nat_l4proto_unique_tuple, the last two steps of get_unique_tuple).
//
// The steps of get_unique_tuple before these stay with the caller, who knows
// the flow table: for a source manip without --random, keep the original
// tuple when its address (and port, if the rule gives ports) is within the
// range and its reply tuple is free; otherwise reuse the mapping of an
// existing connection from the same source address, port and protocol
// (find_appropriate_src) if it is in range and free. Only then does the
// kernel choose an address (choose_address) and a port (choose_port).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "conntrack/tuple.hpp"
#include "nat/rewrite.hpp"
#include "packet/address.hpp"

namespace verdictd {

// Inclusive; both ends of the same family.
struct AddressRange {
  IpAddress min;
  IpAddress max;
};

// Inclusive; a reversed range is read the other way round, as the kernel does.
struct NatPortRange {
  std::uint16_t min = 0;
  std::uint16_t max = 0;
};

// The address the manipulated side of `original` takes: a Jenkins hash
// (jhash2, whose seed is fixed: nothing random) of the original source
// address, seeded with the last 32 bits of the destination address and the
// zone unless `persistent`, scaled into the range 32 bits at a time. It is the
// kernel's computation, so the kernel picks the same address for the same
// connection. As in the kernel, an IPv6 range whose ends differ in more than
// their last 32 bits can yield addresses outside it.
IpAddress choose_address(const AddressRange& range, const Tuple& original, ManipSide side,
                         bool persistent);

struct PortChoice {
  std::uint8_t protocol = 0;            // IPPROTO_*
  ManipSide side = ManipSide::kSource;  // SNAT, MASQUERADE: source; DNAT, REDIRECT: destination
  // The value the manip may change: the source port for kSource, the
  // destination port for kDestination; for ICMP and ICMPv6 the echo id (the
  // tuple's source_port) either way.
  std::uint16_t original = 0;
  std::optional<NatPortRange> range;  // to-ports / the port part of to-source or to-destination
  bool random = false;                // --random or --random-fully: never keep the original
};

// The port (or echo id) for the new tuple, given the address already chosen.
// `taken(port)` says whether the tuple with that port is in use: whether the
// reply tuple it implies belongs to another connection in the flow table.
// Keeps the original when it is free and within the range (or no range is
// given); otherwise searches from a random offset: the range, or without one
// 1-511, 600-1023 or 1024-65535 by the original port's class (ICMP ids:
// 0-65535). Destination ports without a range are never changed; protocols
// without ports keep what they have. nullopt when no free value was found:
// the kernel gives up after 128 + 64 + 32 + 16 + 8 probes at most, so a full
// or nearly full range drops the packet.
std::optional<std::uint16_t> choose_port(const PortChoice& request,
                                         const std::function<bool(std::uint16_t)>& taken);

}  // namespace verdictd
