#include "packet/packet_builder.hpp"

#include <algorithm>

#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"
#include "packet/packet.hpp"

namespace verdictd {

namespace {

constexpr std::uint16_t kDontFragment = 0x4000;
constexpr std::uint16_t kTcpWindow = 64240;

std::size_t transport_header(std::uint8_t protocol) {
  switch (protocol) {
    case ipproto::kTcp:
      return kTcpHeader;
    case ipproto::kUdp:
      return kUdpHeader;
    case ipproto::kIcmp:
    case ipproto::kIcmpv6:
      return kIcmpHeader;
    default:
      return 0;
  }
}

void write_transport(const PacketDescription& d, std::span<std::uint8_t> t) {
  switch (d.protocol) {
    case ipproto::kTcp:
      write16(t, 0, d.source_port);
      write16(t, 2, d.destination_port);
      write32(t, 4, d.sequence);
      write32(t, 8, d.acknowledgment);
      t[12] = (kTcpHeader / 4) << 4;
      t[13] = d.tcp_flags;
      write16(t, 14, kTcpWindow);
      break;
    case ipproto::kUdp:
      write16(t, 0, d.source_port);
      write16(t, 2, d.destination_port);
      write16(t, 4, static_cast<std::uint16_t>(t.size()));
      break;
    case ipproto::kIcmp:
    case ipproto::kIcmpv6:
      t[0] = d.icmp_type;
      t[1] = d.icmp_code;
      write16(t, 4, d.icmp_identifier);
      write16(t, 6, 1);  // the sequence number
      break;
    default:
      break;
  }
}

// The transport checksum over the pseudo-header (none for ICMP: its own bytes only).
void write_transport_checksum(const PacketDescription& d, std::span<std::uint8_t> t) {
  std::size_t at = 0;
  switch (d.protocol) {
    case ipproto::kTcp:
      at = 16;
      break;
    case ipproto::kUdp:
      at = 6;
      break;
    case ipproto::kIcmp:
    case ipproto::kIcmpv6:
      at = 2;
      break;
    default:
      return;
  }
  const std::uint16_t pseudo =
      d.protocol == ipproto::kIcmp
          ? 0
          : checksum::pseudo_header_sum(d.source, d.destination, d.protocol,
                                        static_cast<std::uint32_t>(t.size()));
  std::uint16_t sum = checksum::finish(checksum::ones_sum(t, pseudo));
  // A UDP checksum that comes to 0 is sent as all ones (RFC 768).
  if (d.protocol == ipproto::kUdp && sum == 0) sum = 0xffff;
  write16(t, at, sum);
}

}  // namespace

std::vector<std::uint8_t> build_packet(const PacketDescription& d) {
  const bool ipv4 = d.source.family == Family::kIPv4;
  const std::size_t network = ipv4 ? kIpv4Header : kIpv6Header;
  const std::size_t length =
      std::max<std::size_t>(d.length, network + transport_header(d.protocol));
  std::vector<std::uint8_t> p(length, 0);
  const std::span<std::uint8_t> bytes(p);
  if (ipv4) {
    p[0] = 0x45;
    write16(bytes, 2, static_cast<std::uint16_t>(length));
    write16(bytes, 6, kDontFragment);
    p[8] = d.ttl;
    p[9] = d.protocol;
    std::copy_n(d.source.bytes.begin(), 4, p.begin() + 12);
    std::copy_n(d.destination.bytes.begin(), 4, p.begin() + 16);
    write16(bytes, 10, checksum::finish(checksum::ones_sum(bytes.first(kIpv4Header))));
  } else {
    p[0] = 0x60;
    write16(bytes, 4, static_cast<std::uint16_t>(length - kIpv6Header));
    p[6] = d.protocol;
    p[7] = d.ttl;
    std::copy_n(d.source.bytes.begin(), 16, p.begin() + 8);
    std::copy_n(d.destination.bytes.begin(), 16, p.begin() + 24);
  }
  const std::span<std::uint8_t> transport = bytes.subspan(network);
  write_transport(d, transport);
  write_transport_checksum(d, transport);
  return p;
}

}  // namespace verdictd
