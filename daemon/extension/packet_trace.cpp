#include "extension/packet_trace.hpp"

#include <algorithm>
#include <array>

#include "conntrack/icmp_tracking.hpp"
#include "conntrack/siphash.hpp"

namespace verdictd {

PacketFacts PacketFacts::of(const PacketView& packet, std::uint32_t mark) {
  PacketFacts facts;
  facts.mark = mark;
  if (!packet.has_network) return facts;
  facts.has_network = true;
  facts.family = packet.family;
  facts.source = packet.source;
  facts.destination = packet.destination;
  facts.protocol = packet.protocol;
  facts.has_ports = packet.has_ports;
  facts.source_port = packet.source_port;
  facts.destination_port = packet.destination_port;
  facts.has_tcp = packet.has_tcp;
  facts.tcp_flags = packet.tcp_flags;
  facts.has_icmp = packet.has_icmp;
  facts.icmp_type = packet.icmp_type;
  facts.icmp_code = packet.icmp_code;
  facts.tos = packet.tos;
  facts.ttl = packet.ttl;
  facts.length = packet.length;
  return facts;
}

std::uint64_t trace_fingerprint(const PacketView& packet) {
  // At most this much of the payload is hashed: enough to tell packets of
  // one connection apart, little enough for the packet path.
  constexpr std::size_t kPayloadHashed = 64;
  std::array<std::uint8_t, 16 + kPayloadHashed> message{};
  std::size_t size = 0;
  const auto put = [&](std::span<const std::uint8_t> bytes) {
    const std::size_t n = std::min(bytes.size(), message.size() - size);
    std::copy_n(bytes.begin(), n, message.begin() + static_cast<std::ptrdiff_t>(size));
    size += n;
  };
  const auto put_byte = [&](std::uint8_t b) { put(std::span(&b, 1)); };
  // Bytes [from, from + count) of `bytes`, as many of them as there are.
  const auto part = [](std::span<const std::uint8_t> bytes, std::size_t from,
                       std::size_t count = std::dynamic_extent) {
    from = std::min(from, bytes.size());
    return bytes.subspan(from, std::min(count, bytes.size() - from));
  };
  if (!packet.has_network) return siphash24(process_sip_key(), packet.bytes);
  put_byte(static_cast<std::uint8_t>(packet.family));
  put_byte(packet.protocol);
  if (packet.family == Family::kIPv4) {
    put(part(packet.bytes, 4, 4));  // identification, flags and fragment offset
  } else {
    // The flow label, without the traffic class that TOS/DSCP rewrite.
    put_byte(packet.bytes[1] & 0x0f);
    put(part(packet.bytes, 2, 2));
  }
  const auto transport = part(packet.bytes, packet.transport_offset);
  if (packet.has_tcp) {              // a whole TCP header
    put(part(transport, 4, 8));      // sequence and acknowledgement numbers
    put_byte(transport[13] & 0x3f);  // the flags, less the ECN bits the ECN target clears
    put(part(transport, 14, 2));     // window
    put(part(transport, std::size_t{4} * (transport[12] >>
                                          4U)));  // the payload, not the options TCPMSS rewrites
  } else if (packet.has_icmp) {
    // Type and code; an echo's sequence number and data (not its identifier,
    // which NAT rewrites as a port, nor an error's quoted packet, which NAT
    // rewrites too).
    put(part(transport, 0, 2));
    if (!icmp_is_error(packet.family, packet.icmp_type)) put(part(transport, 6));
  } else if (packet.has_ports) {
    put(part(transport, 8));
  } else {
    put(transport);
  }
  return siphash24(process_sip_key(), std::span(message.data(), size));
}

}  // namespace verdictd
