// Checksums for the NAT rewriting and checksum tests, written independently
// of daemon/nat/checksum (naive sums over an assembled pseudo-header, a
// bit-by-bit CRC32c), and what a NAT manipulation writes into a packet built
// with packets.hpp.
#pragma once

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "nat/rewrite.hpp"
#include "packet/packet.hpp"
#include "packets.hpp"

namespace verdictd::test {

// RFC 1071: the complement of the ones-complement sum of 16-bit words.
inline std::uint16_t reference_checksum(const Bytes& data) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    sum += i % 2 == 0 ? std::uint64_t{data[i]} << 8 : data[i];
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// CRC32c one bit at a time (RFC 9260 appendix A).
inline std::uint32_t reference_crc32c(const Bytes& data) {
  std::uint32_t crc = 0xffffffff;
  for (const std::uint8_t byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
  }
  return ~crc;
}

// Where the parts of a test packet are: the builders below make IPv4 packets
// with options and IPv6 packets with at most a fragment header.
struct Shape {
  bool is_ipv4 = true;
  std::size_t transport = 0;  // where the transport header starts
  std::uint8_t protocol = 0;
  std::uint16_t fragment_offset = 0;
  bool more_fragments = false;
};

inline Shape shape_of(const Bytes& p) {
  Shape s;
  s.is_ipv4 = p[0] >> 4 == 4;
  if (s.is_ipv4) {
    s.transport = std::size_t{p[0] & 0x0fU} * 4;
    s.protocol = p[9];
    s.fragment_offset = get16(p, 6) & 0x1fff;
    s.more_fragments = (p[6] & 0x20) != 0;
  } else {
    s.transport = 40;
    s.protocol = p[6];
    if (s.protocol == kFragmentHeader) {
      s.protocol = p[40];
      s.fragment_offset = get16(p, 42) >> 3;
      s.more_fragments = (p[43] & 1) != 0;
      s.transport = 48;
    }
  }
  return s;
}

// Pseudo-header (RFC 768, RFC 8200 8.1) then the transport bytes.
inline Bytes with_pseudo_header(const Bytes& p, const Shape& s) {
  const Bytes transport = slice(p, s.transport, p.size());
  Bytes b;
  if (s.is_ipv4) {
    b = slice(p, 12, 20);
    b.insert(b.end(), {0, s.protocol, static_cast<std::uint8_t>(transport.size() >> 8),
                       static_cast<std::uint8_t>(transport.size())});
  } else {
    b = slice(p, 8, 40);
    b.insert(b.end(), {0, 0, static_cast<std::uint8_t>(transport.size() >> 8),
                       static_cast<std::uint8_t>(transport.size()), 0, 0, 0, s.protocol});
  }
  b.insert(b.end(), transport.begin(), transport.end());
  return b;
}

inline void seal_ip_header(Bytes& p) {
  if (p[0] >> 4 != 4) return;
  put16(p, 10, 0);
  put16(p, 10, reference_checksum(slice(p, 0, std::size_t{p[0] & 0x0fU} * 4)));
}

// Fills in every checksum of a whole packet (an ICMP error's quote must be
// sealed before it is quoted). A UDP checksum that comes out zero is sent as
// 0xffff.
inline void seal(Bytes& p) {
  seal_ip_header(p);
  const Shape s = shape_of(p);
  if (s.fragment_offset != 0 || s.more_fragments) return;
  const std::size_t t = s.transport;
  switch (s.protocol) {
    case ipproto::kTcp:
      put16(p, t + 16, 0);
      put16(p, t + 16, reference_checksum(with_pseudo_header(p, s)));
      break;
    case ipproto::kUdp:
    case ipproto::kUdplite: {
      put16(p, t + 6, 0);
      Bytes covered = with_pseudo_header(p, s);
      const std::uint16_t coverage = get16(p, t + 4);
      if (s.protocol == ipproto::kUdplite && coverage != 0) {
        covered.resize(covered.size() - (p.size() - t) + coverage);
      }
      const std::uint16_t sum = reference_checksum(covered);
      put16(p, t + 6, sum == 0 ? 0xffff : sum);
      break;
    }
    case ipproto::kSctp: {
      put32(p, t + 8, 0);
      const std::uint32_t crc = reference_crc32c(slice(p, t, p.size()));
      p[t + 8] = static_cast<std::uint8_t>(crc);
      p[t + 9] = static_cast<std::uint8_t>(crc >> 8);
      p[t + 10] = static_cast<std::uint8_t>(crc >> 16);
      p[t + 11] = static_cast<std::uint8_t>(crc >> 24);
      break;
    }
    case ipproto::kIcmp:
      put16(p, t + 2, 0);
      put16(p, t + 2, reference_checksum(slice(p, t, p.size())));
      break;
    case ipproto::kIcmpv6:
      put16(p, t + 2, 0);
      put16(p, t + 2, reference_checksum(with_pseudo_header(p, s)));
      break;
    default:
      break;
  }
}

inline Bytes sealed(Bytes p) {
  seal(p);
  return p;
}

// The checksum field as a locally generated packet carries it before the
// checksum is offloaded (CHECKSUM_PARTIAL): the folded pseudo-header sum, not
// complemented; for SCTP, zero.
inline void make_partial(Bytes& p) {
  const Shape s = shape_of(p);
  const std::size_t t = s.transport;
  switch (s.protocol) {
    case ipproto::kSctp:
      put32(p, t + 8, 0);
      return;
    case ipproto::kIcmp:  // no pseudo-header: nothing summed yet
      put16(p, t + 2, 0);
      return;
    case ipproto::kTcp:
    case ipproto::kUdp:
    case ipproto::kUdplite:
    case ipproto::kIcmpv6:
      break;
    default:  // no checksum to offload
      return;
  }
  const std::size_t at = s.protocol == ipproto::kTcp      ? t + 16
                         : s.protocol == ipproto::kIcmpv6 ? t + 2
                                                          : t + 6;
  Bytes pseudo = with_pseudo_header(p, s);
  pseudo.resize(s.is_ipv4 ? 12 : 40);
  put16(p, at, static_cast<std::uint16_t>(~reference_checksum(pseudo)));
}

// The ICMP types whose identifier the kernel remaps.
inline bool has_icmp_id(const Shape& s, std::uint8_t type) {
  if (s.protocol == ipproto::kIcmpv6) return !s.is_ipv4 && (type == 128 || type == 129);
  return s.protocol == ipproto::kIcmp && s.is_ipv4 &&
         (type == 0 || type == 8 || (type >= 13 && type <= 18));
}

// `p` with the manip's fields written and nothing else: no checksum touched.
inline Bytes with_fields(Bytes p, const NatManip& m) {
  const Shape s = shape_of(p);
  const bool source = m.side == ManipSide::kSource;
  const std::size_t address = s.is_ipv4 ? (source ? 12 : 16) : (source ? 8 : 24);
  std::copy_n(m.address.bytes.begin(), m.address.size(),
              p.begin() + static_cast<std::ptrdiff_t>(address));
  if (s.fragment_offset != 0) return p;
  switch (s.protocol) {
    case ipproto::kTcp:
    case ipproto::kUdp:
    case ipproto::kUdplite:
    case ipproto::kSctp:
      put16(p, s.transport + (source ? 0 : 2), m.port);
      break;
    default:
      if (has_icmp_id(s, p[s.transport])) put16(p, s.transport + 4, m.port);
      break;
  }
  return p;
}

inline NatManip manip(ManipSide side, const char* address, std::uint16_t port) {
  return {side, *IpAddress::parse(address), port};
}

// The first fragment of a whole (sealed) packet: its first `transport_bytes`
// bytes past the network headers, more-fragments set.
inline Bytes first_fragment(const Bytes& whole, std::size_t transport_bytes) {
  const Shape s = shape_of(whole);
  Bytes p = slice(whole, 0, s.transport + transport_bytes);
  if (s.is_ipv4) {
    p[6] |= 0x20;
    put16(p, 2, static_cast<std::uint16_t>(p.size()));
    seal_ip_header(p);
  } else {
    p[43] |= 1;
    put16(p, 4, static_cast<std::uint16_t>(p.size() - 40));
  }
  return p;
}

// An ICMP (IPv4) or ICMPv6 error quoting `quoted`, sealed.
inline Bytes icmp_error(bool is_ipv4, std::uint8_t type, std::uint8_t code, const char* source,
                        const char* destination, const Bytes& quoted) {
  Bytes message(8, 0);
  message[0] = type;
  message[1] = code;
  message.insert(message.end(), quoted.begin(), quoted.end());
  return sealed(is_ipv4 ? ipv4(ipproto::kIcmp, source, destination, message)
                        : ipv6(ipproto::kIcmpv6, source, destination, message));
}

inline std::string hex(const Bytes& b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (const std::uint8_t byte : b) {
    s += digits[byte >> 4];
    s += digits[byte & 0x0f];
  }
  return s;
}

}  // namespace verdictd::test
