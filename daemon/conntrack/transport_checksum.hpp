// The checksum test of the kernel's conntrack protocols (tcp_error,
// udp_error, nf_conntrack_icmpv4_error, nf_conntrack_icmpv6_error, each
// through nf_checksum), which makes a packet INVALID at PREROUTING while
// nf_conntrack_checksum is 1, its default.
#pragma once

#include "packet/packet.hpp"

namespace verdictd {

// Whether the packet's transport checksum stands, as nf_checksum computes it:
// over everything from the transport header to the end of the packet (the
// kernel's skb->len - dataoff, whatever a UDP length field says), with the
// pseudo-header of the addresses the IP header carries (not a source route's
// final hop) for TCP, UDP and ICMPv6, without one for ICMP. A UDP datagram
// with checksum 0 carries none and stands (udp_error, both families).
// True as well for what conntrack does not check this way (other protocols,
// ICMP in IPv6 and ICMPv6 in IPv4) and for what cannot be checked: a
// fragment (the kernel checks the reassembled datagram, which is what the
// queue delivers) or a copy cut short.
bool transport_checksum_valid(const PacketView& packet);

// The checksum test as the kernel applies it: only where the packet
// `crossed_prerouting` (the *_error functions test hooknum ==
// NF_INET_PRE_ROUTING), and only when its checksum is not known to be right
// already or partial (nf_checksum does nothing for CHECKSUM_UNNECESSARY,
// CHECKSUM_PARTIAL or a verified CHECKSUM_COMPLETE). True: INVALID.
bool checksum_rejected(const PacketView& packet, bool crossed_prerouting);

}  // namespace verdictd
