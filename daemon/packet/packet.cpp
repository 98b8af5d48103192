#include "packet/packet.hpp"

#include <algorithm>

#include "packet/byte_order.hpp"
#include "packet/ipv6_extension.hpp"

namespace verdictd {

namespace {

void parse_transport(PacketView& p, std::span<const std::uint8_t> b) {
  if (p.fragment_offset != 0) return;  // only the first fragment has the header
  const std::size_t at = p.transport_offset;
  const std::size_t left = at <= b.size() ? b.size() - at : 0;
  p.transport_bytes = left;
  switch (p.protocol) {
    case ipproto::kTcp:
      // multiport reads only the ports; the tcp match needs the whole header.
      if (left >= 4) {
        p.has_ports = true;
        p.source_port = read16(b, at);
        p.destination_port = read16(b, at + 2);
      }
      // The kernel's tcp match reads 20 bytes whatever the data offset says
      // (it checks the offset only for --tcp-option), so a bad offset still matches.
      if (left >= 20) {
        p.has_tcp = true;
        p.tcp_reserved = b[at + 12] & 0x0f;
        p.tcp_flags = b[at + 13];
        p.tcp_window = read16(b, at + 14);
        p.tcp_urgent = read16(b, at + 18);
      }
      break;
    case ipproto::kUdp:
    case ipproto::kUdplite:
    case ipproto::kSctp:
      // multiport reads the ports alone; the udp and sctp matches check
      // their whole header against transport_bytes.
      if (left >= 4) {
        p.has_ports = true;
        p.source_port = read16(b, at);
        p.destination_port = read16(b, at + 2);
      }
      break;
    case ipproto::kIcmp:
    case ipproto::kIcmpv6:
      // The kernel's icmp and icmp6 matches read the whole 8-byte header.
      if ((p.protocol == ipproto::kIcmp) == (p.family == Family::kIPv4) && left >= 8) {
        p.has_icmp = true;
        p.icmp_type = b[at];
        p.icmp_code = b[at + 1];
      }
      break;
    default:
      break;
  }
}

// The packet's length from its length field and the bytes the field leaves
// out. A field of 0 on a packet over 64 KiB is a GSO packet of BIG TCP, whose
// length only the queue knows (iph_totlen; IPv6 likewise, without a jumbo option).
std::uint32_t declared_length(std::uint16_t field, std::uint32_t not_counted,
                              std::uint32_t queued_length) {
  constexpr std::uint32_t kFieldMax = 0xffff;
  return field == 0 && queued_length > kFieldMax ? queued_length : field + not_counted;
}

void parse_ipv4(PacketView& p, std::span<const std::uint8_t> b, std::uint32_t queued_length) {
  if (b.size() < 20) return;
  const std::size_t header = static_cast<std::size_t>(b[0] & 0x0f) * 4;
  const std::uint32_t total = declared_length(read16(b, 2), 0, queued_length);
  if (header < 20 || b.size() < header || total < header) return;
  p.has_network = true;
  p.family = Family::kIPv4;
  p.tos = b[1];
  p.length = total;
  p.ip_id = read16(b, 4);
  const std::uint16_t frag = read16(b, 6);
  p.dont_fragment = (frag & 0x4000) != 0;
  p.more_fragments = (frag & 0x2000) != 0;
  p.fragment_offset = frag & 0x1fff;
  p.is_fragment = p.more_fragments || p.fragment_offset != 0;
  p.ttl = b[8];
  p.protocol = b[9];
  p.source = IpAddress::from_v4(&b[12]);
  p.destination = IpAddress::from_v4(&b[16]);
  p.transport_offset = header;
  // Bytes past the declared length (link padding) are not part of the packet.
  parse_transport(p, b.first(std::min<std::size_t>(b.size(), total)));
}

void parse_ipv6(PacketView& p, std::span<const std::uint8_t> b, std::uint32_t queued_length) {
  if (b.size() < 40) return;
  p.has_network = true;
  p.family = Family::kIPv6;
  p.tos = static_cast<std::uint8_t>(((b[0] & 0x0f) << 4) | (b[1] >> 4));
  const std::size_t declared = declared_length(read16(b, 4), 40, queued_length);
  p.length = static_cast<std::uint32_t>(declared);
  p.ttl = b[7];
  p.source = IpAddress::from_v6(&b[8]);
  p.destination = IpAddress::from_v6(&b[24]);
  const std::span<const std::uint8_t> packet = b.first(std::min(b.size(), declared));
  std::uint8_t next = b[6];
  std::size_t at = 40;
  // Every extension header is at least 8 bytes. A chain cut short leaves the
  // cut header's number as the protocol, with no transport fields.
  while (is_ipv6_extension_header(next) && at + 8 <= packet.size()) {
    const std::uint8_t following = packet[at];
    if (next == ipproto::kFragment) {
      const std::uint16_t frag = read16(packet, at + 2);
      p.fragment_offset = frag >> 3;
      p.more_fragments = (frag & 1) != 0;
      p.is_fragment = true;
      at += 8;
    } else if (next == ipproto::kAh) {
      at += (static_cast<std::size_t>(packet[at + 1]) + 2) * 4;
    } else {
      at += (static_cast<std::size_t>(packet[at + 1]) + 1) * 8;
    }
    next = following;
    if (p.fragment_offset != 0) break;  // later headers belong to the first fragment
  }
  p.protocol = next;
  p.transport_offset = at;
  parse_transport(p, packet);
}

}  // namespace

bool is_ipv6_extension_header(std::uint8_t next) {
  return next == ipproto::kHopByHop || next == ipproto::kRouting || next == ipproto::kFragment ||
         next == ipproto::kAh || next == ipproto::kDestinationOptions;
}

PacketView PacketView::parse(std::span<const std::uint8_t> bytes, std::uint32_t queued_length) {
  PacketView p;
  p.bytes = bytes;
  if (bytes.empty()) return p;
  switch (bytes[0] >> 4) {
    case 4:
      parse_ipv4(p, bytes, queued_length);
      break;
    case 6:
      // Even a header cut short is judged by its family's chains and policies.
      p.family = Family::kIPv6;
      parse_ipv6(p, bytes, queued_length);
      break;
    default:
      break;
  }
  return p;
}

}  // namespace verdictd
