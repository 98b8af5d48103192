// A bounds-checked, non-owning view over one packet as NFQUEUE delivers it
// (starting at the network header). Parsing never reads past the end and never
// fails: what could not be parsed is simply absent, and matches that need it
// do not match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "packet/address.hpp"

namespace verdictd {

namespace ipproto {
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kIcmpv6 = 58;
inline constexpr std::uint8_t kSctp = 132;
inline constexpr std::uint8_t kUdplite = 136;
}  // namespace ipproto

// The sizes of the fixed headers (struct iphdr and tcphdr without options,
// ipv6hdr, udphdr, icmphdr and icmp6hdr).
inline constexpr std::size_t kIpv4Header = 20;
inline constexpr std::size_t kIpv6Header = 40;
inline constexpr std::size_t kTcpHeader = 20;
inline constexpr std::size_t kUdpHeader = 8;
inline constexpr std::size_t kIcmpHeader = 8;

namespace tcpflag {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcpflag

// What the kernel knows of a packet's transport checksum, as NFQUEUE reports
// it in NFQA_SKB_INFO (nfqnl_put_packet_info).
enum class ChecksumInfo : std::uint8_t {
  // Neither flag: the driver or the stack verified it (skb_csum_unnecessary),
  // or the hook is one where the kernel does not say (OUTPUT).
  kVerified,
  // NFQA_SKB_CSUMNOTREADY: CHECKSUM_PARTIAL, locally generated (a veth peer's
  // socket, say); the field holds the pseudo-header sum until it is filled in.
  kPartial,
  // NFQA_SKB_CSUM_NOTVERIFIED: nobody has checked it yet.
  kUnverified,
};

struct PacketView {
  std::span<const std::uint8_t> bytes;
  // Set by whoever received the packet; parse leaves it kVerified.
  ChecksumInfo checksum = ChecksumInfo::kVerified;

  bool has_network = false;  // a complete IPv4 or IPv6 header was present
  Family family = Family::kIPv4;
  IpAddress source;
  IpAddress destination;
  // The packet's length, as the kernel's skb->len: IPv4 total length, IPv6
  // payload length + 40; for a GSO packet over 64 KiB, whose header says 0
  // (BIG TCP, the kernel's iph_totlen), the length the queue reported.
  std::uint32_t length = 0;
  std::uint8_t ttl = 0;     // IPv4 TTL or IPv6 hop limit
  std::uint8_t tos = 0;     // IPv4 TOS or IPv6 traffic class
  std::uint16_t ip_id = 0;  // IPv4 identification
  bool dont_fragment = false;

  // Transport protocol: IPv4 protocol field, or for IPv6 the header that
  // follows the extension headers.
  std::uint8_t protocol = 0;
  // A fragment that is not the first (offset != 0) carries no transport header.
  bool is_fragment = false;           // any fragment: offset != 0 or more-fragments
  std::uint16_t fragment_offset = 0;  // in 8-byte units
  bool more_fragments = false;
  std::size_t transport_offset = 0;  // where the transport header starts

  // Bytes from the transport header to the end of what was received.
  std::size_t transport_bytes = 0;
  // Transport fields, each present only when its header was complete.
  bool has_ports = false;  // TCP, UDP, UDP-Lite, SCTP: the first 4 bytes
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  bool has_tcp = false;
  std::uint8_t tcp_flags = 0;
  std::uint16_t tcp_window = 0;
  std::uint8_t tcp_reserved = 0;  // the 4 bits between data offset and flags
  std::uint16_t tcp_urgent = 0;
  bool has_icmp = false;  // ICMP for IPv4, ICMPv6 for IPv6
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;

  // `queued_length`: the whole packet's length as NFQUEUE reported it (the
  // bytes may be cut short), needed only for GSO packets over 64 KiB.
  static PacketView parse(std::span<const std::uint8_t> bytes, std::uint32_t queued_length = 0);
  [[nodiscard]] bool is_first_fragment_or_whole() const { return fragment_offset == 0; }
};

}  // namespace verdictd
