// Hand-built packets for the connection tracking tests: TCP segments with
// sequence numbers, ICMP and ICMPv6 queries and errors quoting a packet.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "test_packets.hpp"

namespace verdictd::test {

inline void put32(Bytes& b, std::size_t at, std::uint32_t value) {
  put16(b, at, static_cast<std::uint16_t>(value >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(value));
}

// An IPv4 packet around `payload`; `id` is the IP identification.
inline Bytes ipv4(std::uint8_t protocol, const char* source, const char* destination,
                  const Bytes& payload, std::uint16_t id = 0) {
  Bytes p(20, 0);
  p[0] = 0x45;
  put16(p, 2, static_cast<std::uint16_t>(20 + payload.size()));
  put16(p, 4, id);
  p[8] = 64;
  p[9] = protocol;
  inet_pton(AF_INET, source, &p[12]);
  inet_pton(AF_INET, destination, &p[16]);
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

// An IPv6 packet around `payload`, with no extension headers.
inline Bytes ipv6(std::uint8_t next_header, const char* source, const char* destination,
                  const Bytes& payload) {
  Bytes p(40, 0);
  p[0] = 0x60;
  put16(p, 4, static_cast<std::uint16_t>(payload.size()));
  p[6] = next_header;
  p[7] = 64;
  inet_pton(AF_INET6, source, &p[8]);
  inet_pton(AF_INET6, destination, &p[24]);
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

struct Segment {
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::size_t payload = 0;
  std::uint16_t window = 64240;
  Bytes options{};  // padded with end-of-list to a multiple of 4 bytes
};

// A TCP header with `options`, followed by `payload` bytes.
inline Bytes tcp_header(const Segment& s) {
  Bytes options = s.options;
  options.resize((options.size() + 3) / 4 * 4, 0);
  // The whole header at once: growing it by insert trips a false
  // -Warray-bounds of GCC 12 at -O2.
  Bytes b(20 + options.size(), 0);
  std::copy(options.begin(), options.end(), b.begin() + 20);
  put16(b, 0, s.sport);
  put16(b, 2, s.dport);
  put32(b, 4, s.seq);
  put32(b, 8, s.ack);
  b[12] = static_cast<std::uint8_t>((20 + options.size()) / 4 << 4);
  b[13] = s.flags;
  put16(b, 14, s.window);
  put16(b, 16, 0);  // checksum
  put16(b, 18, 0);  // urgent pointer
  b.resize(b.size() + s.payload, 0xdd);
  return b;
}

// The options of a Linux SYN: MSS 1460, SACK permitted, timestamps, window scale.
inline Bytes syn_options(std::uint8_t window_scale) {
  return {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, window_scale};
}

// A SACK option with one block, [left, right).
inline Bytes sack_option(std::uint32_t left, std::uint32_t right) {
  Bytes b{1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0};
  put32(b, 4, left);
  put32(b, 8, right);
  return b;
}

// An ICMP or ICMPv6 header with the echo identifier `id`, then `body`.
inline Bytes icmp_message(std::uint8_t type, std::uint8_t code, std::uint16_t id,
                          const Bytes& body = {}) {
  Bytes b(8, 0);
  b[0] = type;
  b[1] = code;
  put16(b, 4, id);
  put16(b, 6, 1);  // sequence
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

// What an ICMP error quotes: the offending packet's network header and the
// first 8 bytes after it.
inline Bytes quote(const Bytes& packet, std::size_t network_header) {
  return {packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(std::min(
                                               packet.size(), network_header + std::size_t{8}))};
}

}  // namespace verdictd::test
