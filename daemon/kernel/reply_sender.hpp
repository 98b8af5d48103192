// Sends the answers REJECT builds (packet/reject_reply.hpp) from the
// daemon's network namespace, through raw sockets that take the packet
// whole (IPPROTO_RAW: IP_HDRINCL for IPv4, the IPv6 header for IPv6).
//
// Such a packet leaves as the kernel's own REJECT answers leave, through
// ip_local_out / ip6_local_out: it crosses the OUTPUT and POSTROUTING hooks.
// When verdictd steers OUTPUT, the answer therefore comes back to its own
// OUTPUT queue and the ruleset's OUTPUT rules judge it, as the kernel's
// iptables judge the kernel's answers. One difference: the kernel hands its
// answer the rejected packet's connection (nf_ct_attach), so OUTPUT sees it
// RELATED; verdictd's answer is a packet of its own there, and an RST or an
// error for a connection that was never confirmed is INVALID to the
// trackers (a rule dropping INVALID in OUTPUT drops it).
#pragma once

#include <cstdint>
#include <span>

#include "packet/reject_reply.hpp"

namespace verdictd {

class ReplySender {
 public:
  // Opens both sockets and reads the host's default hop limits. Throws
  // std::system_error when a socket cannot be opened (no CAP_NET_RAW).
  ReplySender();
  ReplySender(const ReplySender&) = delete;
  ReplySender& operator=(const ReplySender&) = delete;
  ReplySender(ReplySender&&) = delete;
  ReplySender& operator=(ReplySender&&) = delete;
  ~ReplySender();

  // Sends one built reply. A source left unspecified becomes the address
  // the route back to the destination sends from (connecting a UDP socket
  // asks the kernel for it), as icmp_send's and icmp6_send's route lookup
  // picks it. Never blocks; a reply that cannot go out is dropped, as the
  // kernel drops one it cannot route. Safe from every worker at once.
  void send(std::span<std::uint8_t> reply) const;

  // net.ipv4.ip_default_ttl and net.ipv6.conf.default.hop_limit, read once.
  [[nodiscard]] HopLimits hop_limits() const { return hop_limits_; }

 private:
  int ipv4_ = -1;
  int ipv6_ = -1;
  HopLimits hop_limits_;
};

}  // namespace verdictd
