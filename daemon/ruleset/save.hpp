// Export in iptables-save format, one text per family, so the kernel can load
// the same ruleset (the tests' oracle) and people can read it.
#pragma once

#include <string>

#include "ruleset/model.hpp"
#include "ruleset/rule_state.hpp"

namespace verdictd {

// The rules that apply to `family` (those naming no family apply to both), as
// iptables-save / ip6tables-save print them. Tables without chains are left out.
// With `counters` (the ruleset's state), each line has its counters, as
// iptables-save -c prints them.
std::string save_ruleset(const Ruleset& ruleset, Family family,
                         const RulesetState* counters = nullptr);

}  // namespace verdictd
