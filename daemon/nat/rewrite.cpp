#include "nat/rewrite.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"
#include "packet/packet.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kDccp = 33;

// How a transport checksum is made right after the rewrite.
enum class ChecksumMode : std::uint8_t {
  kIncremental,  // the packet's checksum is complete: update it (RFC 1624)
  kWhole,        // the field holds only the pseudo-header sum: compute it
  kQuote,        // a quote in an ICMP error, cut short: update what it holds
};

// The checksums a transport header carries.
enum class Sum : std::uint8_t {
  kNone,
  kInternet,          // ones complement over the transport bytes (ICMP)
  kWithPseudoHeader,  // ... and the pseudo-header (TCP, UDP, UDP-Lite, ICMPv6)
  kCrc32c,            // SCTP
};

struct TransportLayout {
  std::size_t header = 0;                      // the bytes the header takes
  std::optional<std::size_t> rewritten_field;  // the port or identifier the manip writes
  Sum sum = Sum::kNone;
  std::size_t checksum_at = 0;
  bool is_udp = false;        // UDP and UDP-Lite: a computed zero is sent as 0xffff
  bool has_coverage = false;  // UDP-Lite: the checksum covers the first `coverage` bytes
};

// The ICMP messages that carry an identifier the kernel tracks and remaps:
// echo, timestamp, information and address mask requests and replies.
bool is_icmp_query(std::uint8_t type) {
  switch (type) {
    case 0:
    case 8:
    case 13:
    case 14:
    case 15:
    case 16:
    case 17:
    case 18:
      return true;
    default:
      return false;
  }
}

bool is_icmpv6_echo(std::uint8_t type) { return type == 128 || type == 129; }

// ICMP: destination unreachable, source quench, redirect, time exceeded,
// parameter problem. ICMPv6: types below 128.
bool is_icmp_error(Family family, std::uint8_t type) {
  if (family == Family::kIPv6) return type < 128;
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

// What the manip touches past the IP header; nullopt for a protocol it
// cannot rewrite (DCCP, which the kernel rewrites but verdictd does not).
std::optional<TransportLayout> transport_layout(const PacketView& view,
                                                std::span<const std::uint8_t> transport,
                                                ManipSide side) {
  const std::size_t port_at = side == ManipSide::kSource ? 0 : 2;
  const bool is_ipv4 = view.family == Family::kIPv4;
  switch (view.protocol) {
    case ipproto::kTcp:
      return TransportLayout{.header = 20,
                             .rewritten_field = port_at,
                             .sum = Sum::kWithPseudoHeader,
                             .checksum_at = 16};
    case ipproto::kUdp:
    case ipproto::kUdplite:
      return TransportLayout{.header = 8,
                             .rewritten_field = port_at,
                             .sum = Sum::kWithPseudoHeader,
                             .checksum_at = 6,
                             .is_udp = true,
                             .has_coverage = view.protocol == ipproto::kUdplite};
    case ipproto::kSctp:
      return TransportLayout{
          .header = 12, .rewritten_field = port_at, .sum = Sum::kCrc32c, .checksum_at = 8};
    case kDccp:
      return std::nullopt;
    case ipproto::kIcmp:
    case ipproto::kIcmpv6: {
      // ICMP in IPv6 or ICMPv6 in IPv4 is no protocol the kernel tracks.
      if (is_ipv4 != (view.protocol == ipproto::kIcmp)) return TransportLayout{};
      const bool has_id = !transport.empty() &&
                          (is_ipv4 ? is_icmp_query(transport[0]) : is_icmpv6_echo(transport[0]));
      return TransportLayout{
          .header = 8,
          .rewritten_field = has_id ? std::optional<std::size_t>(4) : std::nullopt,
          .sum = is_ipv4 ? Sum::kInternet : Sum::kWithPseudoHeader,
          .checksum_at = 2};
    }
    default:
      return TransportLayout{};
  }
}

std::size_t address_offset(Family family, ManipSide side) {
  if (family == Family::kIPv4) return side == ManipSide::kSource ? 12 : 16;
  return side == ManipSide::kSource ? 8 : 24;
}

// The packet's length as its IP header declares it.
std::size_t declared_length(const PacketView& view, std::span<const std::uint8_t> ip) {
  return view.family == Family::kIPv4 ? read16(ip, 2) : read16(ip, 4) + std::size_t{40};
}

IpAddress address_at(Family family, std::span<const std::uint8_t> ip, std::size_t at) {
  return family == Family::kIPv4 ? IpAddress::from_v4(&ip[at]) : IpAddress::from_v6(&ip[at]);
}

// The sum the pseudo-header adds for a transport part of `length` bytes, with
// the addresses the packet holds now.
std::uint16_t pseudo_header_of(const PacketView& view, std::span<const std::uint8_t> ip,
                               std::size_t length) {
  return checksum::pseudo_header_sum(
      address_at(view.family, ip, address_offset(view.family, ManipSide::kSource)),
      address_at(view.family, ip, address_offset(view.family, ManipSide::kDestination)),
      view.protocol, static_cast<std::uint32_t>(length));
}

void recompute_ipv4_header_checksum(std::span<std::uint8_t> ip) {
  const std::size_t header = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
  write16(ip, 10, 0);
  write16(ip, 10, checksum::finish(checksum::ones_sum(ip.first(header))));
}

// The bytes a UDP-Lite checksum covers (RFC 3828: coverage 0 means all);
// nullopt for a coverage the packet cannot have.
std::optional<std::size_t> covered_length(const TransportLayout& layout,
                                          std::span<const std::uint8_t> transport) {
  if (!layout.has_coverage) return transport.size();
  const std::uint16_t coverage = read16(transport, 4);
  if (coverage == 0) return transport.size();
  if (coverage < 8 || coverage > transport.size()) return std::nullopt;
  return coverage;
}

// True when every byte of `message` but its checksum field (at `checksum_at`) is zero.
bool is_zero_but_checksum(std::span<const std::uint8_t> message, std::size_t checksum_at) {
  for (std::size_t at = 0; at < message.size(); ++at) {
    if (message[at] != 0 && at != checksum_at && at != checksum_at + 1) return false;
  }
  return true;
}

// Rewrites one IP packet: a whole one, or (kQuote) the packet quoted in an
// ICMP error, cut short where the error ends. A null `manip` changes nothing
// but the checksums (kWhole: complete_checksums).
bool rewrite_ip(std::span<std::uint8_t> ip, const NatManip* manip, ChecksumMode mode) {
  const PacketView view = PacketView::parse(ip);
  if (!view.has_network || (manip != nullptr && view.family != manip->address.family)) {
    return false;
  }
  const std::size_t declared = declared_length(view, ip);
  // Handing back a truncated copy would cut the packet short.
  if (mode != ChecksumMode::kQuote && ip.size() < declared) return false;
  const std::size_t end = std::min(ip.size(), declared);
  const bool is_ipv4 = view.family == Family::kIPv4;

  // Only the first fragment (or a whole packet) holds the transport header.
  const bool has_transport = view.fragment_offset == 0;
  std::span<std::uint8_t> transport;
  if (has_transport && view.transport_offset <= end) {
    transport = ip.subspan(view.transport_offset, end - view.transport_offset);
  }
  TransportLayout layout;
  if (has_transport) {
    const auto found =
        transport_layout(view, transport, manip != nullptr ? manip->side : ManipSide::kSource);
    if (!found) return false;
    layout = *found;
    if (manip == nullptr) layout.rewritten_field.reset();
  }
  const bool has_header = layout.sum != Sum::kNone || layout.rewritten_field.has_value();
  // The kernel's conntrack relates an error only when the quote holds the
  // first 8 bytes of the transport header; whole packets need all of it.
  const std::size_t needed =
      mode == ChecksumMode::kQuote ? std::min<std::size_t>(8, layout.header) : layout.header;
  if (has_header && transport.size() < needed) return false;

  const bool is_zero_udp = has_header && layout.is_udp && !layout.has_coverage &&
                           read16(transport, layout.checksum_at) == 0;
  // A checksum whole is computed over the whole datagram, which a first
  // fragment does not hold.
  bool compute_whole = false;
  if (mode != ChecksumMode::kQuote) {
    compute_whole = layout.sum == Sum::kCrc32c ||
                    (layout.sum != Sum::kNone && mode == ChecksumMode::kWhole) ||
                    (is_zero_udp && !is_ipv4);
  }
  if (compute_whole && view.more_fragments) return false;
  std::size_t covered = transport.size();
  if (compute_whole && layout.sum != Sum::kCrc32c) {
    const auto coverage = covered_length(layout, transport);
    if (!coverage) return false;
    covered = *coverage;
  }
  // A quote cut inside the header keeps its checksum (the kernel's 8-byte
  // guarantee); its SCTP CRC cannot be recomputed from the quote at all.
  const bool update_checksum =
      !compute_whole && transport.size() >= layout.header &&
      (layout.sum == Sum::kInternet || layout.sum == Sum::kWithPseudoHeader) &&
      !(is_zero_udp && (is_ipv4 || mode == ChecksumMode::kQuote));

  // Nothing can fail from here on. Without a manip the address stays: the
  // old and new bytes are the same.
  const ManipSide side = manip != nullptr ? manip->side : ManipSide::kSource;
  const std::size_t address_size = view.source.size();
  const std::span<std::uint8_t> address =
      ip.subspan(address_offset(view.family, side), address_size);
  std::array<std::uint8_t, 16> old_address{};
  std::copy(address.begin(), address.end(), old_address.begin());
  const std::span<const std::uint8_t> old_address_bytes =
      std::span(old_address).first(address_size);
  const std::span<const std::uint8_t> new_address_bytes =
      manip != nullptr ? std::span(manip->address.bytes).first(address_size) : old_address_bytes;
  std::copy(new_address_bytes.begin(), new_address_bytes.end(), address.begin());

  if (has_header) {
    std::uint16_t old_field = 0;
    if (layout.rewritten_field) {
      old_field = read16(transport, *layout.rewritten_field);
      write16(transport, *layout.rewritten_field, manip->port);
    }
    if (layout.sum == Sum::kCrc32c && compute_whole) {
      for (std::size_t at = 8; at < 12; ++at) transport[at] = 0;
      const std::uint32_t crc = checksum::crc32c(transport);
      // SCTP stores the CRC least significant byte first.
      for (std::size_t i = 0; i < 4; ++i) {
        transport[8 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
      }
    } else if (compute_whole || update_checksum) {
      std::uint16_t sum = 0;
      if (compute_whole) {
        write16(transport, layout.checksum_at, 0);
        const std::uint16_t initial =
            layout.sum == Sum::kWithPseudoHeader ? pseudo_header_of(view, ip, transport.size()) : 0;
        sum = checksum::finish(checksum::ones_sum(transport.first(covered), initial));
      } else {
        sum = read16(transport, layout.checksum_at);
        if (layout.sum == Sum::kWithPseudoHeader) {
          sum = checksum::update(sum, old_address_bytes, new_address_bytes);
        }
        if (layout.rewritten_field) sum = checksum::update16(sum, old_field, manip->port);
      }
      // Zero means "no checksum" to UDP (RFC 768); 0xffff is the same sum.
      if (layout.is_udp && sum == 0) sum = 0xffff;
      // An ICMP message of zeros (an echo reply whose identifier became 0)
      // sums to +0 and only 0xffff checksums it, where the update (RFC 1624
      // eqn. 3, as the kernel's csum_replace) gives 0x0000 (its section 3).
      if (layout.sum == Sum::kInternet && sum == 0 && mode != ChecksumMode::kQuote &&
          is_zero_but_checksum(transport, layout.checksum_at)) {
        sum = 0xffff;
      }
      write16(transport, layout.checksum_at, sum);
    }
  }

  if (is_ipv4) {
    if (mode == ChecksumMode::kQuote) {
      write16(ip, 10, checksum::update(read16(ip, 10), old_address_bytes, new_address_bytes));
    } else {
      recompute_ipv4_header_checksum(ip);
    }
  }
  return true;
}

}  // namespace

bool apply_manip(std::span<std::uint8_t> packet, const NatManip& manip, bool checksum_partial) {
  return rewrite_ip(packet, &manip,
                    checksum_partial ? ChecksumMode::kWhole : ChecksumMode::kIncremental);
}

bool complete_checksums(std::span<std::uint8_t> packet) {
  return rewrite_ip(packet, nullptr, ChecksumMode::kWhole);
}

bool apply_manip_to_icmp_error(std::span<std::uint8_t> packet, const NatManip& outer,
                               const NatManip& inner) {
  const PacketView view = PacketView::parse(packet);
  if (!view.has_network || view.family != outer.address.family || !view.has_icmp) return false;
  const std::size_t declared = declared_length(view, packet);
  if (packet.size() < declared || view.is_fragment) return false;
  if (!is_icmp_error(view.family, view.icmp_type)) return false;
  const std::span<std::uint8_t> message =
      packet.subspan(view.transport_offset, declared - view.transport_offset);
  // The quote follows the 8-byte ICMP header.
  if (!rewrite_ip(message.subspan(8), &inner, ChecksumMode::kQuote)) return false;

  const std::span<const std::uint8_t> new_address =
      std::span(outer.address.bytes).first(outer.address.size());
  std::copy(new_address.begin(), new_address.end(),
            packet.begin() + static_cast<std::ptrdiff_t>(address_offset(view.family, outer.side)));
  if (view.family == Family::kIPv4) recompute_ipv4_header_checksum(packet);
  write16(message, 2, 0);
  const std::uint16_t initial =
      view.family == Family::kIPv6 ? pseudo_header_of(view, packet, message.size()) : 0;
  write16(message, 2, checksum::finish(checksum::ones_sum(message, initial)));
  return true;
}

}  // namespace verdictd
