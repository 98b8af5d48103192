#include "packet_checks.hpp"

#include <cstdio>
#include <cstdlib>
#include <set>

#include "conntrack/icmp_tracking.hpp"
#include "conntrack/tuple.hpp"
#include "nat_packets.hpp"
#include "packet/packet.hpp"

namespace verdictd::fuzz {

using test::Bytes;
using test::get16;
using test::put16;

namespace {

// The bytes a transport checksum covers: the pseudo-header (RFC 768, RFC 8200
// 8.1) of a transport part of `length` bytes, then `covered`.
Bytes with_pseudo_header(const PacketView& view, std::size_t length,
                         std::span<const std::uint8_t> covered) {
  const std::size_t size = view.source.size();
  Bytes b(view.source.bytes.begin(), view.source.bytes.begin() + static_cast<std::ptrdiff_t>(size));
  b.insert(b.end(), view.destination.bytes.begin(),
           view.destination.bytes.begin() + static_cast<std::ptrdiff_t>(size));
  if (view.family == Family::kIPv4) {
    b.insert(b.end(), {0, view.protocol, static_cast<std::uint8_t>(length >> 8),
                       static_cast<std::uint8_t>(length)});
  } else {
    b.insert(b.end(),
             {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
              static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 0, 0, 0,
              view.protocol});
  }
  b.insert(b.end(), covered.begin(), covered.end());
  return b;
}

// Where the transport checksum of `view` is, and whether the pseudo-header
// counts; nullopt where checksums_of checks none.
struct ChecksumField {
  std::size_t at = 0;
  bool pseudo_header = true;
};
std::optional<ChecksumField> checksum_field(const PacketView& view, std::size_t length) {
  const bool is_ipv4 = view.family == Family::kIPv4;
  switch (view.protocol) {
    case ipproto::kTcp:
      return length < 20 ? std::nullopt : std::optional(ChecksumField{16});
    case ipproto::kUdp:
    case ipproto::kUdplite:
      return length < 8 ? std::nullopt : std::optional(ChecksumField{6});
    case ipproto::kIcmp:
      return !is_ipv4 || length < 8 ? std::nullopt : std::optional(ChecksumField{2, false});
    case ipproto::kIcmpv6:
      return is_ipv4 || length < 8 ? std::nullopt : std::optional(ChecksumField{2});
    default:
      return std::nullopt;
  }
}

// The bytes a UDP-Lite checksum covers (RFC 3828: coverage 0 means all);
// nullopt for a coverage it cannot have. All of them for other protocols.
std::optional<std::size_t> covered_length(const PacketView& view,
                                          std::span<const std::uint8_t> transport) {
  if (view.protocol != ipproto::kUdplite || get16(transport, 4) == 0) return transport.size();
  const std::size_t coverage = get16(transport, 4);
  if (coverage < 8 || coverage > transport.size()) return std::nullopt;
  return coverage;
}

Bytes summed_bytes(const PacketView& view, const ChecksumField& field,
                   std::span<const std::uint8_t> transport, std::size_t covered) {
  if (!field.pseudo_header) return {transport.begin(), transport.end()};
  return with_pseudo_header(view, transport.size(), transport.first(covered));
}

std::uint32_t stored_crc32c(std::span<const std::uint8_t> sctp) {
  return sctp[8] | sctp[9] << 8U | sctp[10] << 16U | static_cast<std::uint32_t>(sctp[11]) << 24U;
}

std::uint32_t crc32c_of(std::span<const std::uint8_t> sctp) {
  Bytes zeroed(sctp.begin(), sctp.end());
  std::fill_n(zeroed.begin() + 8, 4, 0);
  return test::reference_crc32c(zeroed);
}

std::optional<bool> transport_checksum_right(const PacketView& view,
                                             std::span<const std::uint8_t> transport) {
  if (view.protocol == ipproto::kSctp) {
    if (transport.size() < 12) return std::nullopt;
    return crc32c_of(transport) == stored_crc32c(transport);
  }
  const auto field = checksum_field(view, transport.size());
  if (!field) return std::nullopt;
  if (view.protocol == ipproto::kUdp && get16(transport, 6) == 0) {
    return view.family == Family::kIPv4;  // none sent; IPv6 must send one
  }
  const auto covered = covered_length(view, transport);
  if (!covered) return false;
  return test::reference_checksum(summed_bytes(view, *field, transport, *covered)) == 0;
}

void seal_one(std::span<std::uint8_t> packet) {
  const PacketView view = PacketView::parse(packet);
  if (!view.has_network) return;
  if (view.family == Family::kIPv4) {
    const std::size_t header = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
    put16(packet, 10, 0);
    put16(packet, 10, test::reference_checksum(Bytes(packet.begin(), packet.begin() + header)));
  }
  if (view.is_fragment || packet.size() < view.length || view.transport_offset > view.length) {
    return;
  }
  const std::span<std::uint8_t> transport =
      packet.subspan(view.transport_offset, view.length - view.transport_offset);
  if (view.protocol == ipproto::kSctp) {
    if (transport.size() < 12) return;
    const std::uint32_t crc = crc32c_of(transport);
    for (std::size_t i = 0; i < 4; ++i) {
      transport[8 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
    }
    return;
  }
  const auto field = checksum_field(view, transport.size());
  if (!field) return;
  const auto covered = covered_length(view, transport);
  if (!covered) return;
  put16(transport, field->at, 0);
  const std::uint16_t sum =
      test::reference_checksum(summed_bytes(view, *field, transport, *covered));
  const bool is_udp = view.protocol == ipproto::kUdp || view.protocol == ipproto::kUdplite;
  put16(transport, field->at, is_udp && sum == 0 ? 0xffff : sum);
}

// The ICMP messages whose identifier a manipulation writes (rewrite.hpp).
bool has_identifier(const Tuple& tuple) {
  const auto type = static_cast<std::uint8_t>(tuple.destination_port >> 8);
  if (tuple.family == Family::kIPv6) {
    return tuple.protocol == ipproto::kIcmpv6 && (type == 128 || type == 129);
  }
  return tuple.protocol == ipproto::kIcmp &&
         (type == icmptype::kEchoReply || type == icmptype::kEchoRequest ||
          (type >= icmptype::kTimestamp && type <= icmptype::kAddressMaskReply));
}

bool has_ports(std::uint8_t protocol) {
  return protocol == ipproto::kTcp || protocol == ipproto::kUdp || protocol == ipproto::kUdplite ||
         protocol == ipproto::kSctp;
}

// The tuple of a packet whose `manip` side was rewritten.
Tuple manipulated(Tuple tuple, const NatManip& manip) {
  const bool source = manip.side == ManipSide::kSource;
  (source ? tuple.source : tuple.destination) = manip.address;
  if (has_ports(tuple.protocol)) {
    (source ? tuple.source_port : tuple.destination_port) = manip.port;
  } else if (has_identifier(tuple)) {
    tuple.source_port = manip.port;
  }
  return tuple;
}

// The IP header's fields other than the addresses are the same.
void require_same_shape(const PacketView& before, const PacketView& after) {
  require(after.has_network && after.family == before.family, "rewritten: not the same family");
  require(after.protocol == before.protocol && after.length == before.length &&
              after.transport_offset == before.transport_offset &&
              after.fragment_offset == before.fragment_offset &&
              after.more_fragments == before.more_fragments && after.ttl == before.ttl &&
              after.tos == before.tos,
          "rewritten: an IP header field other than an address changed");
}

void require_checksums_kept(const Checksums& before, const Checksums& after) {
  if (before.ip_header == true) require(after.ip_header == true, "IPv4 header checksum broken");
  if (before.transport == true) require(after.transport == true, "transport checksum broken");
}

std::size_t address_offset(Family family, ManipSide side) {
  if (family == Family::kIPv4) return side == ManipSide::kSource ? 12 : 16;
  return side == ManipSide::kSource ? 8 : 24;
}

// The bytes a rewrite may change: the side's address and port (or ICMP
// identifier) and the checksums over them.
std::set<std::size_t> writable_bytes(const PacketView& view, const NatManip& manip) {
  std::set<std::size_t> at;
  const std::size_t address = address_offset(view.family, manip.side);
  for (std::size_t i = 0; i < manip.address.size(); ++i) at.insert(address + i);
  if (view.family == Family::kIPv4) at.insert({10, 11});
  if (view.fragment_offset != 0) return at;
  const std::size_t t = view.transport_offset;
  const std::size_t port = manip.side == ManipSide::kSource ? t : t + 2;
  switch (view.protocol) {
    case ipproto::kTcp:
      at.insert({port, port + 1, t + 16, t + 17});
      break;
    case ipproto::kUdp:
    case ipproto::kUdplite:
      at.insert({port, port + 1, t + 6, t + 7});
      break;
    case ipproto::kSctp:
      at.insert({port, port + 1, t + 8, t + 9, t + 10, t + 11});
      break;
    case ipproto::kIcmp:
    case ipproto::kIcmpv6:
      at.insert({t + 2, t + 3, t + 4, t + 5});
      break;
    default:
      break;
  }
  return at;
}

}  // namespace

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

void seal(std::span<std::uint8_t> packet) {
  const PacketView view = PacketView::parse(packet);
  if (view.has_icmp && icmp_is_error(view.family, view.icmp_type) &&
      view.transport_offset + 8 <= packet.size()) {
    seal_one(packet.subspan(view.transport_offset + 8));
  }
  seal_one(packet);
}

Checksums checksums_of(std::span<const std::uint8_t> packet) {
  const PacketView view = PacketView::parse(packet);
  Checksums sums;
  if (!view.has_network) return sums;
  if (view.family == Family::kIPv4) {
    const std::size_t header = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
    sums.ip_header = test::reference_checksum(Bytes(packet.begin(), packet.begin() + header)) == 0;
  }
  // A transport checksum covers the whole datagram: no fragment, nothing cut off.
  if (view.is_fragment || packet.size() < view.length || view.transport_offset > view.length) {
    return sums;
  }
  sums.transport = transport_checksum_right(
      view, packet.subspan(view.transport_offset, view.length - view.transport_offset));
  return sums;
}

void check_rewrite(std::span<const std::uint8_t> before, std::span<const std::uint8_t> after,
                   const NatManip& manip, bool checksum_partial) {
  require(after.size() == before.size(), "rewritten: the size changed");
  const PacketView old_view = PacketView::parse(before);
  const PacketView new_view = PacketView::parse(after);
  require_same_shape(old_view, new_view);
  const auto old_tuple = packet_tuple(old_view);
  const auto new_tuple = packet_tuple(new_view);
  require(old_tuple.has_value() == new_tuple.has_value(), "rewritten: the tuple came or went");
  if (old_tuple) {
    require(*new_tuple == manipulated(*old_tuple, manip), "rewritten: not the tuple bound");
  }
  const IpAddress& address =
      manip.side == ManipSide::kSource ? new_view.source : new_view.destination;
  require(address == manip.address, "rewritten: not the address bound");

  const std::set<std::size_t> writable = writable_bytes(old_view, manip);
  for (std::size_t i = 0; i < before.size(); ++i) {
    require(before[i] == after[i] || writable.contains(i),
            "rewritten: a byte it must not touch changed");
  }

  const Checksums old_sums = checksums_of(before);
  const Checksums new_sums = checksums_of(after);
  require(new_sums.ip_header != false, "IPv4 header checksum not recomputed");
  require_checksums_kept(old_sums, new_sums);
  // A partial checksum is computed whole, so it is right afterwards.
  if (checksum_partial) require(new_sums.transport != false, "partial checksum not completed");
}

void check_icmp_error_rewrite(std::span<const std::uint8_t> before,
                              std::span<const std::uint8_t> after, const NatManip& outer,
                              const NatManip& inner) {
  require(after.size() == before.size(), "rewritten error: the size changed");
  const PacketView old_view = PacketView::parse(before);
  const PacketView new_view = PacketView::parse(after);
  require_same_shape(old_view, new_view);
  require(new_view.has_icmp && new_view.icmp_type == old_view.icmp_type &&
              new_view.icmp_code == old_view.icmp_code,
          "rewritten error: the ICMP type changed");
  const IpAddress& address =
      outer.side == ManipSide::kSource ? new_view.source : new_view.destination;
  require(address == outer.address, "rewritten error: not the address bound");
  // The quote re-parses to the quoted tuple with the inverse manipulation.
  const auto old_quoted = quoted_tuple(old_view);
  const auto new_quoted = quoted_tuple(new_view);
  require(old_quoted.has_value() == new_quoted.has_value(),
          "rewritten error: the quote came or went");
  if (old_quoted) {
    require(*new_quoted == manipulated(*old_quoted, inner), "rewritten error: quote not as bound");
  }

  const Checksums new_sums = checksums_of(after);
  require(new_sums.ip_header != false, "rewritten error: IPv4 header checksum not recomputed");
  require(new_sums.transport != false, "rewritten error: ICMP checksum not recomputed");
  // The quote's IPv4 header checksum is updated, not recomputed: kept when right.
  const std::size_t quote = old_view.transport_offset + 8;
  if (quote <= before.size()) {
    require_checksums_kept({checksums_of(before.subspan(quote)).ip_header, std::nullopt},
                           {checksums_of(after.subspan(quote)).ip_header, std::nullopt});
  }
}

}  // namespace verdictd::fuzz
