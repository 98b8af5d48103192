// What the NAT targets (DNAT, SNAT, MASQUERADE, REDIRECT, NETMAP) ask of the
// daemon: a binding for the packet's connection, and the addresses of
// interfaces. The targets decide what to ask for; the daemon (NatBinder)
// finds a unique tuple and records it in the flow table.
#pragma once

#include <cstdint>
#include <optional>

#include "conntrack/flow.hpp"
#include "packet/address.hpp"

namespace verdictd {

// The kernel's nf_nat_range2: what a NAT target maps to.
struct NatRange {
  bool has_addresses = false;  // false: keep the address (a port-only mapping)
  IpAddress min_address;
  IpAddress max_address;
  bool has_ports = false;  // false: keep the port unless it must change to stay unique
  std::uint16_t min_port = 0;
  std::uint16_t max_port = 0;
  bool random = false;        // --random: a random port, not the original one first
  bool random_fully = false;  // --random-fully
  bool persistent = false;    // --persistent: the address by source alone
  // NETMAP: the address keeps its host part; only the bits of this prefix
  // length are taken from min_address.
  std::optional<int> netmap_prefix_length;
  // MASQUERADE: the out interface. Its connections are forgotten when the
  // interface goes down or the mapped address goes away.
  std::uint32_t masquerade_ifindex = 0;
};

class NatContext {
 public:
  NatContext() = default;
  NatContext(const NatContext&) = delete;
  NatContext& operator=(const NatContext&) = delete;
  NatContext(NatContext&&) = delete;
  NatContext& operator=(NatContext&&) = delete;
  virtual ~NatContext() = default;

  // Binds the packet's connection for one manipulation (natmanip::kSource or
  // kDestination) to `range`: picks the address and a port that keep the
  // connection's tuples unique, records them, and updates ct.flow. False when
  // no unique tuple is left: the kernel then drops the packet. Also false,
  // and counted as below, for a connection whose binding for `manip` is
  // unknown (Flow::nat_unknown).
  virtual bool bind(PacketConntrack& ct, std::uint8_t manip, const NatRange& range) = 0;
  // Counts a packet dropped because its connection's binding is unknown.
  virtual void note_unbound_drop() = 0;
  // MASQUERADE: the address the out interface would send from to `destination`
  // (nullopt: none, and the kernel drops the packet).
  [[nodiscard]] virtual std::optional<IpAddress> masquerade_address(
      std::uint32_t out_ifindex, const IpAddress& destination) const = 0;
  // REDIRECT: the primary address of the interface the packet came in on
  // (for IPv6 one of the scope of `destination`, the packet's destination).
  [[nodiscard]] virtual std::optional<IpAddress> redirect_address(
      std::uint32_t in_ifindex, const IpAddress& destination) const = 0;
};

}  // namespace verdictd
