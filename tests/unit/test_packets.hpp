// Hand-built packets for unit tests.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <vector>

namespace verdictd::test {

using Bytes = std::vector<std::uint8_t>;

// Multi-byte fields are big-endian, as on the wire.
inline void put16(Bytes& b, std::size_t at, std::uint16_t value) {
  b[at] = static_cast<std::uint8_t>(value >> 8);
  b[at + 1] = static_cast<std::uint8_t>(value);
}

// A UDP header followed by `payload` bytes of 0xee; the length covers both.
inline Bytes udp_header(std::uint16_t sport, std::uint16_t dport, std::size_t payload = 0) {
  Bytes b(8 + payload, 0xee);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put16(b, 4, static_cast<std::uint16_t>(b.size()));
  put16(b, 6, 0);
  return b;
}

inline Bytes sctp_header(std::uint16_t sport, std::uint16_t dport) {
  Bytes b(12, 0);
  put16(b, 0, sport);
  put16(b, 2, dport);
  return b;
}

inline Bytes icmp_header(std::uint8_t type, std::uint8_t code) {
  Bytes b(8, 0);
  b[0] = type;
  b[1] = code;
  put16(b, 4, 0x1234);  // identifier
  return b;
}

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
