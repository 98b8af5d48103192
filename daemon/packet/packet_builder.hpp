// Packets built from a description, for `verdictctl simulate`: an IPv4 or
// IPv6 header (no options or extension headers) and a TCP, UDP, ICMP or
// ICMPv6 header, or a bare payload for any other protocol, with every
// checksum right, as a host would send them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "packet/address.hpp"

namespace verdictd {

struct PacketDescription {
  IpAddress source{};  // its family is the packet's
  IpAddress destination{};
  std::uint8_t protocol = 0;
  std::uint16_t source_port = 0;  // TCP and UDP
  std::uint16_t destination_port = 0;
  std::uint8_t tcp_flags = 0;
  std::uint32_t sequence = 0;
  std::uint32_t acknowledgment = 0;
  std::uint8_t icmp_type = 0;  // ICMP and ICMPv6
  std::uint8_t icmp_code = 0;
  std::uint16_t icmp_identifier = 0;  // the echo identifier
  std::uint8_t ttl = 64;              // the hop limit for IPv6
  // The length from the network header on; 0, or less than the headers
  // need: the headers alone. The rest is zero payload.
  std::uint32_t length = 0;
};

std::vector<std::uint8_t> build_packet(const PacketDescription& description);

}  // namespace verdictd
