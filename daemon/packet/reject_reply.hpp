// The packets REJECT answers with, built field by field as the kernel builds
// them: the TCP RST of nf_send_reset / nf_send_reset6 (nf_reject_ipv4.c,
// nf_reject_ipv6.c) and the destination unreachable errors that
// nf_send_unreach / nf_send_unreach6 have icmp_send / icmp6_send make. Each
// builder refuses what the kernel would not answer that it can tell from the
// packet alone; the caller checks the rest (the hook, the checksum, a
// broadcast or multicast destination) and sends the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "packet/address.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// The hop limit of the host's own packets where no route metric sets one
// (ip4_dst_hoplimit, ip6_dst_hoplimit): net.ipv4.ip_default_ttl and
// net.ipv6.conf.default.hop_limit.
struct HopLimits {
  std::uint8_t ipv4 = 64;
  std::uint8_t ipv6 = 64;
};

// Where REJECT leaves its answer for the daemon to send.
struct RejectReply {
  HopLimits hop_limits;
  std::vector<std::uint8_t> bytes;  // from the network header; empty: nothing to send
};

// The RST answering `original`, in `out`: from its destination to its
// source, ports swapped, DF, TOS 0 and ID 0 (IPv4; the kernel's ip_local_out
// picks no ID for it), traffic class and flow label 0 (IPv6), window 0.
// When the original carries ACK, the RST takes its acknowledgment number as
// sequence number; otherwise sequence 0 and RST+ACK acknowledging the
// original's sequence plus SYN, FIN and its payload length. False, and `out`
// empty, where the kernel sends none: not TCP, a fragment other than the
// first, a header cut short, an RST, and for IPv6 an address that is not
// unicast.
bool build_tcp_reset(const PacketView& original, std::uint8_t hop_limit,
                     std::vector<std::uint8_t>& out);

// A destination unreachable error with `code` (ICMP type 3 for IPv4, ICMPv6
// type 1 for IPv6) to the source of `original`, quoting it from its network
// header up to 576 bytes in all for IPv4 (RFC 1812, icmp_send) and 1280 for
// IPv6 (the minimum MTU, icmp6_send). IPv4: TOS the original's TOS bits
// under precedence 6 (IPTOS_PREC_INTERNETCONTROL), no DF, ID 0 (the sender
// picks one as ip_select_ident does); IPv6: traffic class 0. `source` is the
// address it comes from: the original's destination when that is the
// host's own; nullopt leaves it unspecified for the sender's route to choose
// (set_reply_source), as icmp_send does for a packet not addressed to the
// host. False, and `out` empty, for what the kernel never answers: a
// fragment other than the first, an ICMP error (or an unknown ICMP type,
// which icmp_send takes for one), an unspecified or multicast source.
bool build_unreachable(const PacketView& original, std::uint8_t code,
                       const std::optional<IpAddress>& source, std::uint8_t hop_limit,
                       std::vector<std::uint8_t>& out);

// The source of a built reply; unspecified (0.0.0.0, ::) when it is left to
// the route.
IpAddress reply_source(std::span<const std::uint8_t> reply);
// The destination of a built reply.
IpAddress reply_destination(std::span<const std::uint8_t> reply);
// Writes `source` into a built reply and brings its checksums up to date.
void set_reply_source(std::span<std::uint8_t> reply, const IpAddress& source);

}  // namespace verdictd
