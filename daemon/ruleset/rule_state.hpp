// The runtime state of a loaded ruleset, kept beside it so the ruleset itself
// stays const: per rule its counters and one slot per stateful match and
// target, per built-in chain its policy counters per family, and the named
// state (recent lists, hashlimit tables) by (kind, name). Its layout follows
// the ruleset's: table, chain index, rule index.
//
// Across a reload, rules are matched by identity: same table, same chain
// name, same canonical rule text, and the nth identical rule of a chain pairs
// with the nth. An unchanged rule keeps its counters and its extensions'
// state; a changed or new rule starts fresh. Named state is kept by name
// while some rule still names it, as the kernel keeps a recent list or a
// hashlimit table across a table replace. The carried state is shared, not
// copied, so packets still evaluated against the old ruleset during the swap
// count into it too.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "extension/extension_state.hpp"
#include "packet/hooks.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

struct Counters {
  std::atomic<std::uint64_t> packets{0};
  std::atomic<std::uint64_t> bytes{0};
  void add(std::uint64_t packet_bytes) {
    packets.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(packet_bytes, std::memory_order_relaxed);
  }
  void zero() {
    packets.store(0, std::memory_order_relaxed);
    bytes.store(0, std::memory_order_relaxed);
  }
};

struct RuleState {
  Counters counters;
  // One per match in the rule's order, then the target's; empty when none
  // of them keeps state.
  std::vector<std::shared_ptr<ExtensionState>> slots;

  // The state of the match at `index`, or of the target at matches.size().
  [[nodiscard]] ExtensionState* slot(std::size_t index) const {
    return slots.empty() ? nullptr : slots[index].get();
  }
};

struct ChainState {
  std::array<std::shared_ptr<Counters>, kFamilyCount> policies;  // built-in chains
  std::vector<std::shared_ptr<RuleState>> rules;                 // as Chain::rules

  [[nodiscard]] Counters& policy(Family f) const { return *policies[family_index(f)]; }
};

struct RulesetInForce;

class RulesetState {
 public:
  // Fresh state for every rule of `ruleset`; with `previous`, the state of
  // the rules, policies and names it shares with it is carried over.
  explicit RulesetState(const Ruleset& ruleset, const RulesetInForce* previous = nullptr);

  [[nodiscard]] const ChainState& chain(TableId table, std::size_t index) const {
    return tables_[static_cast<std::size_t>(table)][index];
  }
  [[nodiscard]] const std::vector<ChainState>& table(TableId table) const {
    return tables_[static_cast<std::size_t>(table)];
  }
  // Counters only, as `iptables -Z`: the extensions' state stays.
  void zero_counters() const;
  // The state kept by name (recent lists, sets' live contents), for
  // `verdictctl recent` and `verdictctl set`; null when no rule names the
  // list and no set of that name is declared.
  // Shared, so that a list:set can hold its members.
  [[nodiscard]] std::shared_ptr<ExtensionState> named(const StateName& name) const {
    const auto found = named_.find(name);
    return found == named_.end() ? nullptr : found->second;
  }

 private:
  std::shared_ptr<RuleState> make_rule_state(const Rule& rule, const RulesetState* previous);
  std::shared_ptr<ExtensionState> make_slot(const StatefulExtension& extension,
                                            const RulesetState* previous);
  // The live sets of the ruleset's declarations: carried from `previous`
  // while a declaration's identity is unchanged, else fresh as loaded.
  void make_sets(const Ruleset& ruleset, const RulesetInForce* previous);
  // Records the named state a carried rule's extensions share.
  void claim_names(const Rule& rule, const RuleState& carried);

  std::array<std::vector<ChainState>, kTableCount> tables_;
  std::map<StateName, std::shared_ptr<ExtensionState>> named_;
};

// A ruleset with its state: what the packet path evaluates and `list -v`
// shows. The two are swapped in together.
struct RulesetInForce {
  std::shared_ptr<const Ruleset> ruleset;
  std::shared_ptr<RulesetState> state;
};

}  // namespace verdictd
