#include "packet/packet_type.hpp"

#include <algorithm>
#include <array>

namespace verdictd {

std::string_view packet_type_name(PacketType type) {
  static constexpr std::array<std::string_view, 3> kNames = {"unicast", "broadcast", "multicast"};
  return kNames[static_cast<std::size_t>(type)];
}

std::optional<IpAddress> subnet_broadcast(const IpAddress& address, int prefix_length) {
  if (address.family != Family::kIPv4 || prefix_length >= 31) {
    return std::nullopt;
  }
  IpAddress broadcast = address;
  for (int bit = prefix_length; bit < 32; ++bit) {
    broadcast.bytes[static_cast<std::size_t>(bit / 8)] |=
        static_cast<std::uint8_t>(0x80U >> static_cast<unsigned>(bit % 8));
  }
  return broadcast;
}

PacketType packet_type(Hook hook, const PacketView& packet, std::uint32_t in_ifindex,
                       const SubnetBroadcasts* broadcasts) {
  if (hook == Hook::kOutput || hook == Hook::kPostrouting || !packet.has_network) {
    return PacketType::kUnicast;
  }
  const IpAddress& destination = packet.destination;
  if (packet.family == Family::kIPv6) {
    return destination.bytes[0] == 0xff ? PacketType::kMulticast : PacketType::kUnicast;
  }
  if ((destination.bytes[0] & 0xf0U) == 0xe0U) return PacketType::kMulticast;  // 224.0.0.0/4
  static constexpr std::array<std::uint8_t, 4> kAllOnes = {0xff, 0xff, 0xff, 0xff};
  if (std::equal(kAllOnes.begin(), kAllOnes.end(), destination.bytes.begin()) ||
      (broadcasts != nullptr && broadcasts->is_subnet_broadcast(in_ifindex, destination))) {
    return PacketType::kBroadcast;
  }
  return PacketType::kUnicast;
}

}  // namespace verdictd
