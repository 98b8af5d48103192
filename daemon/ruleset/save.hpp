// Export in iptables-save format, one text per family, so the kernel can load
// the same ruleset (the tests' oracle) and people can read it.
#pragma once

#include <string>

#include "ruleset/model.hpp"

namespace verdictd {

// The rules that apply to `family` (those naming no family apply to both), as
// iptables-save / ip6tables-save print them. Tables without chains are left out.
std::string save_ruleset(const Ruleset& ruleset, Family family, bool with_counters = false);

}  // namespace verdictd
