// The loaded ruleset: an immutable value evaluated by the engine. What
// changes as packets pass (counters, extension state) lives beside it, in
// ruleset/rule_state.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "extension/match.hpp"
#include "extension/target.hpp"
#include "packet/hooks.hpp"
#include "text/json_position.hpp"

namespace verdictd {

struct SetDeclaration;

enum class Policy : std::uint8_t { kAccept, kDrop };

struct Rule {
  std::string comment;
  bool has_comment = false;  // "" is a comment too: `-m comment --comment ""`
  std::vector<std::unique_ptr<Match>> matches;
  std::unique_ptr<Target> target;  // null for jump/goto and for rules without target
  int jump_chain = -1;             // index into the table's chains, or -1
  bool is_goto = false;
  std::optional<Family> family;  // set when a match names one family
  std::string identity;          // canonical JSON of the rule: same identity, same state
  TextPosition position;         // where it is written in the ruleset file, for traces

  // A match or the target reads or changes the packet's connection.
  [[nodiscard]] bool reads_connection() const {
    for (const auto& match : matches) {
      if (match->needs_conntrack()) return true;
    }
    return target && target->needs_conntrack();
  }
};

// What a built-in chain does with a packet of one family that falls through.
struct ChainPolicy {
  Policy verdict = Policy::kAccept;
};

struct Chain {
  std::string name;
  bool builtin = false;
  // Built-in chains only; one per family, as iptables and ip6tables have their own.
  std::array<ChainPolicy, kFamilyCount> policies{};
  std::vector<Rule> rules;
  // The families that have it: a user chain may be iptables' or ip6tables' alone.
  FamilyMask families = kBothFamilies;
  HookMask reached_from = 0;  // hooks whose built-in chains reach this chain
  TextPosition position;      // where it is written (line 1 when it is not), for traces

  [[nodiscard]] const ChainPolicy& policy(Family f) const { return policies[family_index(f)]; }
  ChainPolicy& policy(Family f) { return policies[family_index(f)]; }
};

struct Table {
  TableId id = TableId::kFilter;
  // The families whose packets run this table; the others pass it untouched.
  FamilyMask families = kBothFamilies;
  std::vector<Chain> chains;  // built-in chains first, in hook order, then user chains
  std::array<int, kHookCount> builtin{-1, -1, -1, -1, -1};  // chain index per hook

  // A table the kernel would not need to hold for this family: not covered,
  // or no rules, no user chains and ACCEPT policies. iptables-save leaves it
  // out, and a trace does not show it, as the kernel never loads it.
  [[nodiscard]] bool is_default(Family family) const {
    if ((families & family_bit(family)) == 0) return true;
    return std::all_of(chains.begin(), chains.end(), [family](const Chain& c) {
      return c.builtin && c.rules.empty() && c.policy(family).verdict == Policy::kAccept;
    });
  }
};

struct Ruleset {
  std::string source;  // the file it was loaded from
  std::array<Table, kTableCount> tables;
  // The families it covers: packets of any other are never steered.
  FamilyMask families = kBothFamilies;
  // Per family, hooks where some table has a rule or a DROP policy for it.
  FamilyHooks used_hooks;
  // Families for which some reachable rule reads or changes the packet's
  // connection: their packets must be tracked.
  FamilyMask tracked_families = 0;
  // The nat table has rules: connections are bound, and their packets translated.
  bool uses_nat = false;

  [[nodiscard]] bool tracks(Family f) const { return (tracked_families & family_bit(f)) != 0; }
  [[nodiscard]] const Table& table(TableId id) const {
    return tables[static_cast<std::size_t>(id)];
  }
  Table& table(TableId id) { return tables[static_cast<std::size_t>(id)]; }

  // The named sets it declares (set/set_declaration.hpp), as loaded.
  std::vector<std::shared_ptr<const SetDeclaration>> sets;
};

}  // namespace verdictd
