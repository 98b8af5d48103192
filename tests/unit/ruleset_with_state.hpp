// A ruleset loaded from text together with its state (counters, extension
// state), as the daemon holds them, for the tests that evaluate packets.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "extension/extension_state.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/rule_state.hpp"

namespace verdictd::test {

struct RulesetWithState {
  std::shared_ptr<const Ruleset> ruleset;
  std::shared_ptr<RulesetState> state;

  // The state of `table`'s chain `name`.
  [[nodiscard]] const ChainState& chain(TableId table, std::string_view name) const {
    const std::vector<Chain>& chains = ruleset->table(table).chains;
    for (std::size_t c = 0; c < chains.size(); ++c) {
      if (chains[c].name == name) return state->chain(table, c);
    }
    throw std::logic_error("no chain " + std::string(name));
  }
  // `eval` set to evaluate against this ruleset.
  [[nodiscard]] EvalState& with_state(EvalState& eval) const {
    eval.ruleset_state = state.get();
    return eval;
  }
};

inline RulesetWithState with_state(const std::string& text) {
  std::shared_ptr<const Ruleset> ruleset = load_ruleset_text(text, "t");
  auto state = std::make_shared<RulesetState>(*ruleset);
  return {std::move(ruleset), std::move(state)};
}

// The state `extension` declares, as the chain walk hands it over; for the
// tests that evaluate one match or target.
class ExtensionSlot {
 public:
  explicit ExtensionSlot(const StatefulExtension& extension) : state_(extension.make_state()) {}
  // `eval` with this slot handed over.
  EvalState& in(EvalState& eval) const {
    eval.extension_state = state_.get();
    return eval;
  }

 private:
  std::unique_ptr<ExtensionState> state_;
};

}  // namespace verdictd::test
