// Rewriting a packet for NAT, as the kernel's nf_nat_manip_pkt and
// nf_nat_icmp_reply_translation do (net/netfilter/nf_nat_proto.c), with every
// checksum the change touches made right. Pure code over the packet's bytes.
#pragma once

#include <cstdint>
#include <span>

#include "packet/address.hpp"

namespace verdictd {

enum class ManipSide : std::uint8_t { kSource, kDestination };

// One NAT manipulation: the side's address becomes `address`, and its port
// (TCP, UDP, UDP-Lite, SCTP) becomes `port`. For an ICMP or ICMPv6 echo (and
// the other ICMP queries and replies) `port` is the identifier, written
// whichever the side, as the kernel's icmp_manip_pkt does.
struct NatManip {
  ManipSide side = ManipSide::kSource;
  IpAddress address;
  std::uint16_t port = 0;
};

// Rewrites `packet` (from the network header; the whole packet as NFQUEUE
// delivers it) in place. The kernel takes a payload handed back in a verdict
// as fully checksummed, so every checksum must be final:
// - the IPv4 header checksum is recomputed;
// - `checksum_partial` (NFQA_SKB_CSUMNOTREADY: locally generated or GSO, the
//   transport checksum field holds only the pseudo-header sum) computes the
//   transport checksum whole; otherwise it is updated incrementally;
// - a zero UDP checksum on IPv4 (none sent) stays zero; on IPv6, where zero
//   is not allowed, one is computed; a UDP checksum that comes out zero is
//   sent as 0xffff;
// - SCTP's CRC32c is recomputed whole.
// A fragment that is not the first gets its address changed alone. Protocols
// without ports get their address changed alone.
// Returns false, the packet untouched, when it cannot be rewritten correctly:
// cut short (a truncated copy, or a transport header that does not fit), of
// the other family, DCCP, or a checksum that needs the whole datagram (partial,
// SCTP, zero UDP over IPv6) in a fragment.
bool apply_manip(std::span<std::uint8_t> packet, const NatManip& manip, bool checksum_partial);

// Fills in the transport checksum of a packet whose field holds only the
// pseudo-header sum (NFQA_SKB_CSUMNOTREADY), as apply_manip does for a
// partial checksum, changing nothing else: a packet handed back with the
// verdict must carry final checksums, whoever rewrote it. Returns false, the
// packet untouched, where apply_manip would for a partial checksum.
bool complete_checksums(std::span<std::uint8_t> packet);

// Translates an ICMP or ICMPv6 error about a NATed connection: the quoted
// packet, which travelled the other way, gets `inner` (the inverse of
// `outer`'s side: outer destination changed, quoted source changed), with its
// IPv4 header checksum and, when the quote holds it, its transport checksum
// updated incrementally; then the outer header gets `outer` (whose port is
// unused: an error carries none), and the ICMP checksum is recomputed over the
// whole message (ICMPv6 with its pseudo-header). The quote's own checksums are
// data, never partial. Returns false, the packet untouched, when the packet is
// no complete, unfragmented ICMP error of `outer`'s family, or the quote is
// cut inside its IP header or the first 8 bytes of its transport header.
bool apply_manip_to_icmp_error(std::span<std::uint8_t> packet, const NatManip& outer,
                               const NatManip& inner);

}  // namespace verdictd
