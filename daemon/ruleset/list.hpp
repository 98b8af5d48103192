// `verdictctl list`: tables in the layout of `iptables -L -v -n --line-numbers`.
#pragma once

#include <optional>
#include <string>

#include "ruleset/model.hpp"
#include "ruleset/rule_state.hpp"

namespace verdictd {

struct ListOptions {
  TableId table = TableId::kFilter;
  std::optional<std::string> chain;  // one chain, or all of the table
  bool verbose = false;              // -v: counters, interfaces, option columns
  bool numeric = true;               // -n (verdictd never resolves names)
  bool line_numbers = false;
  bool exact = false;            // -x: counters in full, never shrunk to K, M, G
  std::optional<Family> family;  // -4/-6: only rules that apply to that family
};

// The counters -v shows are `state`'s, the ruleset's own state.
// Throws std::invalid_argument("no chain named X in table Y") for an unknown chain.
std::string list_table(const Ruleset& ruleset, const RulesetState& state,
                       const ListOptions& options);

// Rules in all tables and chains, for status lines.
std::size_t rule_count(const Ruleset& ruleset);

}  // namespace verdictd
