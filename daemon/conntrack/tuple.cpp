#include "conntrack/tuple.hpp"

#include <array>
#include <cstring>
#include <span>

#include "conntrack/icmp_tracking.hpp"
#include "conntrack/siphash.hpp"
#include "packet/byte_order.hpp"
#include "packet/ipv6_extension.hpp"
#include "text/hex.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kDccp = 33;
constexpr std::uint8_t kGre = 47;

// Protocols whose tuple carries the two 16-bit ports at the start of their
// header (nf_ct_get_tuple_ports).
bool has_port_tuple(std::uint8_t protocol) {
  return protocol == ipproto::kTcp || protocol == ipproto::kUdp || protocol == ipproto::kUdplite ||
         protocol == ipproto::kSctp || protocol == kDccp;
}

bool is_icmp_of_family(const Tuple& tuple) {
  return (tuple.family == Family::kIPv4 && tuple.protocol == ipproto::kIcmp) ||
         (tuple.family == Family::kIPv6 && tuple.protocol == ipproto::kIcmpv6);
}

}  // namespace

std::size_t TupleHash::operator()(const Tuple& t) const noexcept {
  // The fields one after another, without the struct's padding, and of an
  // IPv4 address only its four bytes (a message of 16 bytes, not 40: the
  // hash is a good part of a lookup); keyed per process, like the kernel's
  // hash_conntrack_raw, so that no one can craft tuples that fall into one
  // bucket.
  std::array<std::uint8_t, 8 + 2 * sizeof t.source.bytes> message{};
  message[0] = static_cast<std::uint8_t>(t.family);
  message[1] = t.protocol;
  std::memcpy(&message[2], &t.zone, sizeof t.zone);
  std::memcpy(&message[4], &t.source_port, sizeof t.source_port);
  std::memcpy(&message[6], &t.destination_port, sizeof t.destination_port);
  const std::size_t address_size = t.source.size();
  std::memcpy(&message[8], t.source.bytes.data(), address_size);
  std::memcpy(&message[8 + address_size], t.destination.bytes.data(), address_size);
  return static_cast<std::size_t>(
      siphash24(process_sip_key(), std::span(message).first(8 + 2 * address_size)));
}

std::optional<Tuple> packet_tuple(const PacketView& packet) {
  // A later fragment has no transport header (the kernel reassembles first).
  if (!packet.has_network || packet.fragment_offset != 0) return std::nullopt;
  // PacketView leaves an extension header as the protocol when the chain is
  // cut short, where the kernel's ipv6_skip_exthdr finds no protocol.
  if (packet.family == Family::kIPv6 && is_ipv6_extension_header(packet.protocol)) {
    return std::nullopt;
  }
  Tuple tuple{.family = packet.family,
              .protocol = packet.protocol,
              .source = packet.source,
              .destination = packet.destination};
  const std::span<const std::uint8_t> bytes = packet.bytes;
  const std::size_t at = packet.transport_offset;
  if (has_port_tuple(packet.protocol)) {
    if (packet.transport_bytes < 4) return std::nullopt;
    tuple.source_port = read16(bytes, at);
    tuple.destination_port = read16(bytes, at + 2);
  } else if (packet.protocol == ipproto::kIcmp || packet.protocol == ipproto::kIcmpv6) {
    // ICMP over IPv6 and ICMPv6 over IPv4 the kernel's trackers refuse.
    if (!is_icmp_of_family(tuple) || !packet.has_icmp) return std::nullopt;
    tuple.source_port = read16(bytes, at + 4);  // the echo identifier
    tuple.destination_port = static_cast<std::uint16_t>(packet.icmp_type << 8 | packet.icmp_code);
  }
  return tuple;
}

std::optional<Tuple> reply_tuple(const Tuple& tuple) {
  Tuple reply = tuple;
  reply.source = tuple.destination;
  reply.destination = tuple.source;
  if (is_icmp_of_family(tuple)) {
    const auto type = static_cast<std::uint8_t>(tuple.destination_port >> 8);
    const auto answer = icmp_counterpart(tuple.family, type);
    if (!answer) return std::nullopt;
    reply.destination_port =
        static_cast<std::uint16_t>(*answer << 8 | (tuple.destination_port & 0xff));
    return reply;
  }
  reply.source_port = tuple.destination_port;
  reply.destination_port = tuple.source_port;
  return reply;
}

std::optional<Tuple> quoted_tuple(const PacketView& packet) {
  if (!packet.has_icmp || !icmp_is_error(packet.family, packet.icmp_type)) return std::nullopt;
  // The quote is the offending packet's network header and at least the first
  // 8 bytes of what followed; PacketView reads such a cut-short packet.
  const PacketView quoted = PacketView::parse(packet.bytes.subspan(
      packet.transport_offset + kIcmpHeader, packet.transport_bytes - kIcmpHeader));
  if (!quoted.has_network || quoted.family != packet.family) return std::nullopt;
  return packet_tuple(quoted);
}

std::string tuple_text(const Tuple& tuple) {
  std::string text = "src=" + tuple.source.to_string() + " dst=" + tuple.destination.to_string();
  if (is_icmp_of_family(tuple)) {
    text += " type=" + std::to_string(tuple.destination_port >> 8) +
            " code=" + std::to_string(tuple.destination_port & 0xff) +
            " id=" + std::to_string(tuple.source_port);
  } else if (has_port_tuple(tuple.protocol)) {
    text += " sport=" + std::to_string(tuple.source_port) +
            " dport=" + std::to_string(tuple.destination_port);
  } else if (tuple.protocol == kGre) {
    // conntrack -L prints GRE's keys, zero for the version 0 GRE tracked generically.
    text += " srckey=" + hex(tuple.source_port) + " dstkey=" + hex(tuple.destination_port);
  }
  return text;
}

}  // namespace verdictd
