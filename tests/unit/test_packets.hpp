// Hand-built packets for unit tests.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <vector>

namespace verdictd::test {

// An IPv4 packet with a TCP (flags given) or UDP header and no payload.
inline std::vector<std::uint8_t> ipv4_packet(std::uint8_t protocol, const char* source,
                                             const char* destination, std::uint16_t sport,
                                             std::uint16_t dport, std::uint8_t tcp_flags = 0x02) {
  const std::size_t l4 = protocol == 6 ? 20 : 8;
  std::vector<std::uint8_t> p(20 + l4, 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size());
  p[8] = 64;
  p[9] = protocol;
  inet_pton(AF_INET, source, &p[12]);
  inet_pton(AF_INET, destination, &p[16]);
  p[20] = static_cast<std::uint8_t>(sport >> 8);
  p[21] = static_cast<std::uint8_t>(sport);
  p[22] = static_cast<std::uint8_t>(dport >> 8);
  p[23] = static_cast<std::uint8_t>(dport);
  if (protocol == 6) {
    p[32] = 0x50;  // data offset 5
    p[33] = tcp_flags;
  } else {
    p[25] = 8;  // UDP length
  }
  return p;
}

// An IPv6 packet with a UDP header.
inline std::vector<std::uint8_t> ipv6_udp_packet(const char* source, const char* destination,
                                                 std::uint16_t sport, std::uint16_t dport) {
  std::vector<std::uint8_t> p(48, 0);
  p[0] = 0x60;
  p[5] = 8;   // payload length
  p[6] = 17;  // next header: UDP
  p[7] = 64;
  inet_pton(AF_INET6, source, &p[8]);
  inet_pton(AF_INET6, destination, &p[24]);
  p[40] = static_cast<std::uint8_t>(sport >> 8);
  p[41] = static_cast<std::uint8_t>(sport);
  p[42] = static_cast<std::uint8_t>(dport >> 8);
  p[43] = static_cast<std::uint8_t>(dport);
  p[45] = 8;
  return p;
}

}  // namespace verdictd::test
