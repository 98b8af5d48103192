// Hand-built packets for the unit tests and the fuzz targets' checks: one
// builder per header (IPv4, IPv6 and its extension headers, TCP, UDP, SCTP,
// ICMP), each with fields a test may set, and shorthands for whole packets.
// Multi-byte fields are big-endian, as on the wire; checksums are left zero
// (nat_packets.hpp fills them in).
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

namespace verdictd::test {

using Bytes = std::vector<std::uint8_t>;

inline void put16(std::span<std::uint8_t> b, std::size_t at, std::uint16_t value) {
  b[at] = static_cast<std::uint8_t>(value >> 8);
  b[at + 1] = static_cast<std::uint8_t>(value);
}

inline void put32(std::span<std::uint8_t> b, std::size_t at, std::uint32_t value) {
  put16(b, at, static_cast<std::uint16_t>(value >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(value));
}

inline std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const Bytes& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

inline Bytes slice(const Bytes& b, std::size_t from, std::size_t to) {
  return {b.begin() + static_cast<std::ptrdiff_t>(from),
          b.begin() + static_cast<std::ptrdiff_t>(to)};
}

// ---- Network headers.

constexpr std::uint8_t kFragmentHeader = 44;

struct Ipv4Header {
  const char* source = "10.0.0.1";
  const char* destination = "10.0.0.2";
  std::uint8_t ttl = 64;
  std::uint16_t fragment_offset = 0;  // 8-byte units
  bool more_fragments = false;
  std::uint16_t id = 0;
  std::uint8_t tos = 0;
  bool dont_fragment = false;
  std::size_t option_bytes = 0;  // NOP options: a multiple of 4, up to 40
};

// An IPv4 header followed by `payload`; the total length covers both.
inline Bytes ipv4(std::uint8_t protocol, const Bytes& payload, const Ipv4Header& h = {}) {
  const std::size_t header = 20 + h.option_bytes;
  Bytes p(header, 0x01);  // 0x01 is the NOP option
  p[0] = static_cast<std::uint8_t>(0x40 | (header / 4));
  p[1] = h.tos;
  put16(p, 2, static_cast<std::uint16_t>(header + payload.size()));
  put16(p, 4, h.id);
  put16(p, 6,
        static_cast<std::uint16_t>((h.dont_fragment ? 0x4000 : 0) |
                                   (h.more_fragments ? 0x2000 : 0) | h.fragment_offset));
  p[8] = h.ttl;
  p[9] = protocol;
  put16(p, 10, 0);  // checksum
  inet_pton(AF_INET, h.source, &p[12]);
  inet_pton(AF_INET, h.destination, &p[16]);
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

// The same between two addresses; `id` is the IP identification.
inline Bytes ipv4(std::uint8_t protocol, const char* source, const char* destination,
                  const Bytes& payload, std::uint16_t id = 0) {
  return ipv4(protocol, payload, {.source = source, .destination = destination, .id = id});
}

// `p` with `words` 4-byte IPv4 options (NOPs then an end of list).
inline Bytes with_ipv4_options(Bytes p, std::size_t words) {
  Bytes options(words * 4, 1);
  options.back() = 0;
  p.insert(p.begin() + 20, options.begin(), options.end());
  p[0] = static_cast<std::uint8_t>(0x40 | (5 + words));
  put16(p, 2, static_cast<std::uint16_t>(p.size()));
  return p;
}

// A fragment header at `offset` (8-byte units).
inline Bytes fragment_header(std::uint8_t next, std::uint16_t offset, bool more,
                             std::uint32_t identification = 0xcafe0000) {
  Bytes b(8, 0);
  b[0] = next;
  put16(b, 2, static_cast<std::uint16_t>((offset << 3) | (more ? 1 : 0)));
  put32(b, 4, identification);
  return b;
}

// Hop-by-hop, routing or destination options: `units` extra 8-byte units.
inline Bytes options_header(std::uint8_t next, std::uint8_t units = 0) {
  Bytes b((std::size_t{units} + 1) * 8, 0);
  b[0] = next;
  b[1] = units;
  b[2] = 0x01;  // PadN option, so the contents look real
  b[3] = static_cast<std::uint8_t>(b.size() - 4);
  return b;
}

// An authentication header: its length field counts 4-byte units minus 2.
inline Bytes auth_header(std::uint8_t next, std::uint8_t length_field) {
  Bytes b((std::size_t{length_field} + 2) * 4, 0);
  b[0] = next;
  b[1] = length_field;
  return b;
}

struct Ipv6Header {
  const char* source = "2001:db8::1";
  const char* destination = "2001:db8::2";
  std::uint8_t hop_limit = 64;
  std::optional<std::uint16_t> fragment_offset{};  // adds a fragment header, identification 1
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;
};

// An IPv6 header whose payload length covers `payload` (extension headers
// included); `next_header` is the first next-header value.
inline Bytes ipv6(std::uint8_t next_header, const Bytes& payload, const Ipv6Header& h = {}) {
  Bytes p(40, 0);
  put32(p, 0, 0x60000000U | std::uint32_t{h.traffic_class} << 20 | (h.flow_label & 0xfffffU));
  p[6] = next_header;
  p[7] = h.hop_limit;
  inet_pton(AF_INET6, h.source, &p[8]);
  inet_pton(AF_INET6, h.destination, &p[24]);
  if (h.fragment_offset) {
    const Bytes fragment = fragment_header(next_header, *h.fragment_offset, false, 1);
    p[6] = kFragmentHeader;
    p.insert(p.end(), fragment.begin(), fragment.end());
  }
  p.insert(p.end(), payload.begin(), payload.end());
  put16(p, 4, static_cast<std::uint16_t>(p.size() - 40));
  return p;
}

// The same between two addresses, with no extension headers.
inline Bytes ipv6(std::uint8_t next_header, const char* source, const char* destination,
                  const Bytes& payload) {
  return ipv6(next_header, payload, {.source = source, .destination = destination});
}

// An IPv6 packet with a fragment header at `offset` (8-byte units).
inline Bytes ipv6_fragment(std::uint8_t protocol, const char* source, const char* destination,
                           const Bytes& payload, std::uint16_t offset, bool more) {
  return ipv6(kFragmentHeader, source, destination,
              concat({fragment_header(protocol, offset, more, 0xabcd0123), payload}));
}

// ---- Transport headers.

struct Segment {
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::size_t payload = 0;
  std::uint16_t window = 64240;
  Bytes options{};  // padded with end-of-list to a multiple of 4 bytes
  std::uint16_t urgent = 0;
  std::uint8_t reserved = 0;     // the 4 bits before the flags
  std::uint8_t data_offset = 0;  // 0: the options' (a header of at least 20 bytes either way)
};

// A TCP header with `options`, followed by `payload` bytes of 0xdd.
inline Bytes tcp_header(const Segment& s) {
  Bytes options = s.options;
  options.resize((options.size() + 3) / 4 * 4, 0);
  const std::size_t words = s.data_offset != 0 ? s.data_offset : 5 + options.size() / 4;
  // The whole header at once: growing it by insert trips a false
  // -Warray-bounds of GCC 12 at -O2.
  Bytes b(std::max<std::size_t>(20 + options.size(), words * 4), 0);
  std::copy(options.begin(), options.end(), b.begin() + 20);
  put16(b, 0, s.sport);
  put16(b, 2, s.dport);
  put32(b, 4, s.seq);
  put32(b, 8, s.ack);
  b[12] = static_cast<std::uint8_t>(words << 4 | (s.reserved & 0x0fU));
  b[13] = s.flags;
  put16(b, 14, s.window);
  put16(b, 16, 0);  // checksum
  put16(b, 18, s.urgent);
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

// An ICMP or ICMPv6 header with the echo identifier `id`, then `body`.
inline Bytes icmp_message(std::uint8_t type, std::uint8_t code, std::uint16_t id = 0x1234,
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

// ---- Whole packets.

// An IPv4 packet with a TCP (flags given, window 0) or UDP header and no payload.
inline Bytes ipv4_packet(std::uint8_t protocol, const char* source, const char* destination,
                         std::uint16_t sport, std::uint16_t dport, std::uint8_t tcp_flags = 0x02) {
  return ipv4(protocol, source, destination,
              protocol == 6
                  ? tcp_header({.sport = sport, .dport = dport, .flags = tcp_flags, .window = 0})
                  : udp_header(sport, dport));
}

// An IPv6 packet with a UDP header.
inline Bytes ipv6_udp_packet(const char* source, const char* destination, std::uint16_t sport,
                             std::uint16_t dport) {
  return ipv6(17, source, destination, udp_header(sport, dport));
}

}  // namespace verdictd::test
