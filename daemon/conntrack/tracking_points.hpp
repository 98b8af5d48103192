// Where verdictd tracks connections. The kernel tracks every packet once, at
// PREROUTING or OUTPUT (nf_conntrack_in at priority -200); a loopback packet
// keeps the entry it got at OUTPUT when it comes back in through PREROUTING.
// verdictd sees only the hooks it steers, so it steers enough of them that
// every packet of a connection a rule can see crosses one, and tracks each
// packet at the first steered hook on its way; later hooks recall the state.
//
// The ways through a host, and the steered hooks that see them:
//   inbound    PREROUTING -> INPUT
//   forwarded  PREROUTING -> FORWARD -> POSTROUTING
//   outbound   OUTPUT -> POSTROUTING
//   loopback   OUTPUT -> POSTROUTING -> PREROUTING -> INPUT (tracked on the way out)
#pragma once

#include <cstdint>

#include "packet/hooks.hpp"

namespace verdictd {

// The hooks to steer for a ruleset whose rules sit at `rule_hooks` and read
// connections. Inbound and outbound ways are always covered: a connection to
// or from the host crosses both. Forwarded ones are covered unless every rule
// sits in INPUT, the one hook no packet of a forwarded connection reaches
// (OUTPUT, for one, carries the host's ICMP errors about forwarded packets,
// RELATED to them). An uncovered way gets the hook that costs no second queue
// trip: INPUT, FORWARD or OUTPUT, each crossed by that way alone.
HookMask hooks_for_tracking(HookMask rule_hooks);

// True for a loopback packet coming back in at PREROUTING or INPUT: it keeps
// the connection it got on its way out (nf_conntrack_in's "previously seen"
// case), so even the raw table sees its state, and NOTRACK leaves it alone.
bool arrives_tracked(Hook hook, std::uint32_t in_ifindex);

// True when a packet at `hook` is tracked there, false when an earlier
// steered hook tracked it already. `in_ifindex` is the packet's incoming
// interface (0 for locally generated packets).
bool tracks_at(Hook hook, HookMask steered, std::uint32_t in_ifindex);

// True when the packet at `hook` came in through PREROUTING with no
// connection yet, where the kernel's conntrack tests checksums (the
// protocols' *_error functions, only for hooknum == NF_INET_PRE_ROUTING): it
// arrived on an interface, and not back from loopback, whose packets were
// tracked, checksums untested, at OUTPUT.
bool crossed_prerouting(Hook hook, std::uint32_t in_ifindex);

}  // namespace verdictd
