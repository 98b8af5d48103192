#include "packet/link_header.hpp"

#include <algorithm>

namespace verdictd {

namespace {

constexpr MacAddress kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// The multicast MAC a multicast destination maps to: ip_eth_mc_map
// (01:00:5e and the low 23 bits) and ipv6_eth_mc_map (33:33 and the low 32).
MacAddress multicast_mac(const IpAddress& destination) {
  const auto& ip = destination.bytes;
  if (destination.family == Family::kIPv4) {
    return {0x01, 0x00, 0x5e, static_cast<std::uint8_t>(ip[1] & 0x7fU), ip[2], ip[3]};
  }
  return {0x33, 0x33, ip[12], ip[13], ip[14], ip[15]};
}

}  // namespace

std::optional<EthernetHeader> received_header(const ReceivedLink& link, PacketType type,
                                              const PacketView& packet) {
  if (!link.source || link.receiver.kind == LinkKind::kOther) return std::nullopt;
  MacAddress destination = link.receiver.address;
  // The loopback device's neighbours all have its own address (arp_constructor
  // and arp_mc_map give a device without ARP its own and its broadcast
  // address, both zeros); an Ethernet sender maps by the destination.
  if (link.receiver.kind == LinkKind::kEthernet && packet.has_network) {
    if (type == PacketType::kBroadcast) destination = kBroadcast;
    if (type == PacketType::kMulticast) destination = multicast_mac(packet.destination);
  }
  EthernetHeader header{};
  std::copy(destination.begin(), destination.end(), header.begin());
  std::copy(link.source->begin(), link.source->end(), header.begin() + 6);
  // ETH_P_IP, ETH_P_IPV6
  header[12] = packet.family == Family::kIPv4 ? 0x08 : 0x86;
  header[13] = packet.family == Family::kIPv4 ? 0x00 : 0xdd;
  return header;
}

}  // namespace verdictd
