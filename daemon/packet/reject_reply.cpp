#include "packet/reject_reply.hpp"

#include <algorithm>

#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"

namespace verdictd {

namespace {

constexpr std::uint16_t kDontFragment = 0x4000;
constexpr std::uint8_t kIcmpDestinationUnreachable = 3;
constexpr std::uint8_t kIcmpv6DestinationUnreachable = 1;
// IPTOS_PREC_INTERNETCONTROL, and RT_TOS's mask of the original's TOS bits.
constexpr std::uint8_t kInternetControlPrecedence = 0xc0;
constexpr std::uint8_t kTosBits = 0x1e;
// What an error may quote: up to 576 bytes in all (IPv4), the IPv6 minimum MTU.
constexpr std::size_t kIpv4ErrorMax = 576;
constexpr std::size_t kIpv6ErrorMax = 1280;
// ICMPv6 types from 128 up are informational (ICMPV6_INFOMSG_MASK).
constexpr std::uint8_t kIcmpv6Informational = 0x80;
// The highest ICMP type icmp_send knows (NR_ICMP_TYPES).
constexpr std::uint8_t kLastIcmpType = 18;

std::size_t network_header(Family family) {
  return family == Family::kIPv4 ? kIpv4Header : kIpv6Header;
}

std::size_t address_at(Family family, bool destination) {
  if (family == Family::kIPv4) return destination ? 16 : 12;
  return destination ? 24 : 8;
}

// The ICMP types icmp_send answers: those icmp_pointers does not mark as
// errors (echo, timestamp, information and address mask requests and replies).
bool is_icmp_query(std::uint8_t type) {
  if (type > kLastIcmpType) return false;
  switch (type) {
    case 0:   // echo reply
    case 8:   // echo request
    case 13:  // timestamp
    case 14:  // timestamp reply
    case 15:  // information request
    case 16:  // information reply
    case 17:  // address mask request
    case 18:  // address mask reply
      return true;
    default:
      return false;
  }
}

bool is_unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

bool is_multicast(const IpAddress& a) {
  return a.family == Family::kIPv4 ? (a.bytes[0] & 0xf0U) == 0xe0U : a.bytes[0] == 0xff;
}

// A header for `payload` bytes of `protocol` from `source` to `destination`.
// IPv4: `tos`, DF as asked, ID 0; IPv6: traffic class and flow label 0.
void put_network_header(std::vector<std::uint8_t>& out, const IpAddress& source,
                        const IpAddress& destination, std::uint8_t protocol, std::size_t payload,
                        std::uint8_t hop_limit, std::uint8_t tos, bool dont_fragment) {
  const Family family = destination.family;
  const std::size_t header = network_header(family);
  out.assign(header + payload, 0);
  const std::span<std::uint8_t> b(out);
  if (family == Family::kIPv4) {
    b[0] = 0x45;
    b[1] = tos;
    write16(b, 2, static_cast<std::uint16_t>(header + payload));
    write16(b, 6, dont_fragment ? kDontFragment : 0);
    b[8] = hop_limit;
    b[9] = protocol;
  } else {
    b[0] = 0x60;
    write16(b, 4, static_cast<std::uint16_t>(payload));
    b[6] = protocol;
    b[7] = hop_limit;
  }
  std::copy_n(source.bytes.begin(), source.size(), b.begin() + address_at(family, false));
  std::copy_n(destination.bytes.begin(), destination.size(), b.begin() + address_at(family, true));
}

// The IPv4 header checksum and the transport checksum of a built reply.
void finish_checksums(std::span<std::uint8_t> reply) {
  const IpAddress source = reply_source(reply);
  const IpAddress destination = reply_destination(reply);
  const Family family = destination.family;
  const std::size_t header = network_header(family);
  const std::uint8_t protocol = family == Family::kIPv4 ? reply[9] : reply[6];
  if (family == Family::kIPv4) {
    write16(reply, 10, 0);
    write16(reply, 10, checksum::finish(checksum::ones_sum(reply.first(header))));
  }
  const std::span<std::uint8_t> transport = reply.subspan(header);
  const std::size_t checksum_at = protocol == ipproto::kTcp ? 16 : 2;
  write16(transport, checksum_at, 0);
  const std::uint16_t pseudo_header =
      protocol == ipproto::kIcmp
          ? 0
          : checksum::pseudo_header_sum(source, destination, protocol,
                                        static_cast<std::uint32_t>(transport.size()));
  write16(transport, checksum_at, checksum::finish(checksum::ones_sum(transport, pseudo_header)));
}

}  // namespace

IpAddress reply_source(std::span<const std::uint8_t> reply) {
  const bool ipv4 = (reply[0] >> 4) == 4;
  const std::uint8_t* at = reply.data() + address_at(ipv4 ? Family::kIPv4 : Family::kIPv6, false);
  return ipv4 ? IpAddress::from_v4(at) : IpAddress::from_v6(at);
}

IpAddress reply_destination(std::span<const std::uint8_t> reply) {
  const bool ipv4 = (reply[0] >> 4) == 4;
  const std::uint8_t* at = reply.data() + address_at(ipv4 ? Family::kIPv4 : Family::kIPv6, true);
  return ipv4 ? IpAddress::from_v4(at) : IpAddress::from_v6(at);
}

void set_reply_source(std::span<std::uint8_t> reply, const IpAddress& source) {
  std::copy_n(source.bytes.begin(), source.size(),
              reply.begin() + address_at(source.family, false));
  finish_checksums(reply);
}

bool build_tcp_reset(const PacketView& original, std::uint8_t hop_limit,
                     std::vector<std::uint8_t>& out) {
  out.clear();
  // nf_reject_ip_tcphdr_get, nf_reject_ip6_tcphdr_get, and nf_send_reset6's
  // unicast test.
  if (!original.has_network || original.protocol != ipproto::kTcp ||
      !original.is_first_fragment_or_whole() || original.transport_bytes < kTcpHeader) {
    return false;
  }
  if (original.family == Family::kIPv6 &&
      (is_unspecified(original.source) || is_multicast(original.source) ||
       is_unspecified(original.destination) || is_multicast(original.destination))) {
    return false;
  }
  const std::span<const std::uint8_t> tcp = original.bytes.subspan(original.transport_offset);
  const std::uint8_t flags = tcp[13];
  if ((flags & tcpflag::kRst) != 0) return false;

  put_network_header(out, original.destination, original.source, ipproto::kTcp, kTcpHeader,
                     hop_limit, 0, original.family == Family::kIPv4);
  const std::span<std::uint8_t> rst = std::span(out).subspan(network_header(original.family));
  write16(rst, 0, read16(tcp, 2));
  write16(rst, 2, read16(tcp, 0));
  rst[12] = (kTcpHeader / 4) << 4;
  if ((flags & tcpflag::kAck) != 0) {
    write32(rst, 4, read32(tcp, 8));
    rst[13] = tcpflag::kRst;
  } else {
    // The kernel's u32 arithmetic over skb->len, header lengths included.
    const std::uint32_t data_offset = (tcp[12] >> 4U) * 4U;
    const std::uint32_t payload =
        original.length - static_cast<std::uint32_t>(original.transport_offset) - data_offset;
    const std::uint32_t syn_fin =
        ((flags & tcpflag::kSyn) != 0 ? 1U : 0U) + ((flags & tcpflag::kFin) != 0 ? 1U : 0U);
    write32(rst, 8, read32(tcp, 4) + syn_fin + payload);
    rst[13] = tcpflag::kRst | tcpflag::kAck;
  }
  finish_checksums(out);
  return true;
}

bool build_unreachable(const PacketView& original, std::uint8_t code,
                       const std::optional<IpAddress>& source, std::uint8_t hop_limit,
                       std::vector<std::uint8_t>& out) {
  out.clear();
  if (!original.has_network || !original.is_first_fragment_or_whole()) return false;
  if (is_unspecified(original.source) || is_multicast(original.source)) return false;
  const bool ipv4 = original.family == Family::kIPv4;
  // No error about an error: icmp_send reads the inner type (one byte is
  // enough), icmp6_send's is_ineligible likewise.
  if (original.protocol == (ipv4 ? ipproto::kIcmp : ipproto::kIcmpv6)) {
    if (original.transport_bytes < 1) return false;
    const std::uint8_t type = original.bytes[original.transport_offset];
    if (ipv4 ? !is_icmp_query(type) : (type & kIcmpv6Informational) == 0) return false;
  }
  const std::size_t header = network_header(original.family);
  const std::size_t most = (ipv4 ? kIpv4ErrorMax : kIpv6ErrorMax) - header - kIcmpHeader;
  const std::size_t quoted =
      std::min({static_cast<std::size_t>(original.length), original.bytes.size(), most});
  IpAddress from;
  from.family = original.family;
  if (source) from = *source;
  const std::uint8_t tos =
      ipv4 ? static_cast<std::uint8_t>((original.tos & kTosBits) | kInternetControlPrecedence) : 0;
  put_network_header(out, from, original.source, ipv4 ? ipproto::kIcmp : ipproto::kIcmpv6,
                     kIcmpHeader + quoted, hop_limit, tos, false);
  const std::span<std::uint8_t> icmp = std::span(out).subspan(header);
  icmp[0] = ipv4 ? kIcmpDestinationUnreachable : kIcmpv6DestinationUnreachable;
  icmp[1] = code;
  std::copy_n(original.bytes.begin(), quoted, icmp.begin() + kIcmpHeader);
  finish_checksums(out);
  return true;
}

}  // namespace verdictd
