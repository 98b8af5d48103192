// Connections whose NAT binding is unknown: adopted from the kernel's table at
// a restart (Flow::nat_unknown), bound perhaps by the previous run, with no
// binding in the store. Such a connection's packets are dropped wherever a
// binding the nat rules could have made would translate them: sent on
// untranslated, they would show an internal address.
//
// A packet in the original direction meets the nat chains of its hook as a
// first packet would (the kernel's nf_nat_inet_fn runs them for an
// uninitialised manipulation): a NAT target that matches refuses to bind it
// (NatBinder drops it); none matching makes the null binding. Other packets
// (replies, ICMP errors) cannot run those chains; they are dropped while the
// manipulation that would translate them is unknown and the ruleset has a NAT
// target for it.
#pragma once

#include <array>
#include <cstdint>

#include "conntrack/flow.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

// Per family, the manipulations (natmanip bits) the ruleset's nat chains can
// bind: those of the hooks reaching a rule with a NAT target.
std::array<std::uint8_t, kFamilyCount> bindable_manips(const Ruleset& ruleset);

// True when the packet of `flow` travelling in `direction` would be translated
// at `hook` by a binding that is unknown and that `bindable` (the flow's
// family's bindable_manips) says the rules could have made.
bool needs_unknown_binding(const Flow& flow, Direction direction, Hook hook, std::uint8_t bindable);

}  // namespace verdictd
