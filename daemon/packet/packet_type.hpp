// The link-layer packet type (the kernel's skb->pkt_type) of a packet at a
// hook, for the kinds xt_pkttype is asked about. NFQUEUE does not report it,
// nor the destination MAC it is made from (NFQA_HWADDR is the source; the L2
// header, NFQA_L2HDR, comes only for bridge packets), so it is rebuilt from
// what the frame's sender made it from: the destination address.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "packet/address.hpp"
#include "packet/hooks.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// PACKET_HOST, PACKET_BROADCAST and PACKET_MULTICAST (linux/if_packet.h).
enum class PacketType : std::uint8_t { kUnicast, kBroadcast, kMulticast };
std::string_view packet_type_name(PacketType type);  // "unicast", as --pkt-type takes it

// Which IPv4 addresses are the broadcast address of a subnet of an interface
// (the kernel's RTN_BROADCAST routes, fib_add_ifaddr); the daemon answers
// from its address cache.
class SubnetBroadcasts {
 public:
  SubnetBroadcasts() = default;
  SubnetBroadcasts(const SubnetBroadcasts&) = delete;
  SubnetBroadcasts& operator=(const SubnetBroadcasts&) = delete;
  SubnetBroadcasts(SubnetBroadcasts&&) = delete;
  SubnetBroadcasts& operator=(SubnetBroadcasts&&) = delete;
  virtual ~SubnetBroadcasts() = default;
  [[nodiscard]] virtual bool is_subnet_broadcast(std::uint32_t ifindex,
                                                 const IpAddress& address) const = 0;
};

// The all-ones host of `address`'s subnet; nullopt for a /31 or /32, which
// have none (fib_add_ifaddr adds the route only below 31).
std::optional<IpAddress> subnet_broadcast(const IpAddress& address, int prefix_length);

// skb->pkt_type as xt_pkttype reads it (pkttype_mt):
// - OUTPUT, POSTROUTING: a locally generated packet keeps the PACKET_HOST of
//   a new skb until it leaves (dev_loopback_xmit sets PACKET_LOOPBACK on the
//   looped copy of a broadcast or multicast after POSTROUTING); a forwarded
//   one was PACKET_HOST, as ip_forward and ip6_forward forward nothing else.
// - PREROUTING, INPUT, FORWARD: what eth_type_trans made of the destination
//   MAC, which the sender chose by the destination address: IPv4 and IPv6
//   multicast map to multicast MACs (ip_eth_mc_map, ipv6_eth_mc_map),
//   255.255.255.255 and a subnet broadcast of the link to ff:ff:ff:ff:ff:ff.
//   `broadcasts` (may be null) names the subnet broadcasts of `in_ifindex`.
//   A looped-back copy (PACKET_LOOPBACK) has a broadcast or multicast
//   destination, and pkttype_mt's rule for it (IPv4 multicast destination or
//   IPv6: multicast, else broadcast) gives what its destination gives.
PacketType packet_type(Hook hook, const PacketView& packet, std::uint32_t in_ifindex,
                       const SubnetBroadcasts* broadcasts);

}  // namespace verdictd
