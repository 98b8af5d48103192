// Which NAT manipulation a packet of a bound connection gets at a hook, as the
// kernel's nf_nat_packet and nf_nat_icmp_reply_translation decide it: the
// destination at PREROUTING and OUTPUT, the source at POSTROUTING and INPUT,
// each when the connection's binding changed that side for the packet's
// direction (a reply gets the inverse of the original's changes).
#pragma once

#include <optional>

#include "conntrack/flow.hpp"
#include "nat/rewrite.hpp"
#include "packet/hooks.hpp"

namespace verdictd {

// The manipulation a hook applies (natmanip bit), 0 at FORWARD.
std::uint8_t nat_manip_of(Hook hook);

struct NatTranslation {
  NatManip outer;  // the packet itself
  NatManip inner;  // what an ICMP error quotes (the packet that travelled the other way)
};

// nullopt when the packet keeps its addresses and ports at this hook.
std::optional<NatTranslation> nat_translation(Hook hook, const Flow& flow, Direction direction);

}  // namespace verdictd
