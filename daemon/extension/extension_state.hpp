// State an extension keeps between packets (statistic's nth counter,
// connlimit's connection lists, and the coming token buckets, quotas, recent
// lists and hashlimit tables). The extension objects of a ruleset are const:
// an extension only declares the state it needs, by returning a fresh one
// from make_state(); the framework (ruleset/rule_state.hpp) creates it, keeps
// it beside the ruleset, carries it across a reload and hands it back, through
// EvalState::extension_state, each time the extension is evaluated.
#pragma once

#include <compare>
#include <memory>
#include <optional>
#include <string>

#include "extension/eval_state.hpp"

namespace verdictd {

class ExtensionState {
 public:
  ExtensionState() = default;
  ExtensionState(const ExtensionState&) = delete;
  ExtensionState& operator=(const ExtensionState&) = delete;
  ExtensionState(ExtensionState&&) = delete;
  ExtensionState& operator=(ExtensionState&&) = delete;
  virtual ~ExtensionState() = default;
};

// State shared by every rule naming it and kept across reloads by name, as
// the kernel keeps xt_recent's lists and xt_hashlimit's tables: `kind` is the
// extension ("recent"), `name` the one the rule gives ("DEFAULT").
struct StateName {  // NOLINT below: clang-tidy 14 takes the defaulted <=> for a literal 0
  std::string kind;
  std::string name;
  friend auto operator<=>(const StateName&, const StateName&) = default;  // NOLINT
};

// What a match or target declares about its state. Without a name, each rule
// has its own, kept across a reload while the rule is unchanged.
class StatefulExtension {
 public:
  StatefulExtension() = default;
  StatefulExtension(const StatefulExtension&) = delete;
  StatefulExtension& operator=(const StatefulExtension&) = delete;
  StatefulExtension(StatefulExtension&&) = delete;
  StatefulExtension& operator=(StatefulExtension&&) = delete;
  virtual ~StatefulExtension() = default;

  // The state as it starts; null for an extension that keeps none.
  [[nodiscard]] virtual std::unique_ptr<ExtensionState> make_state() const { return nullptr; }
  // Set for named state: make_state() is then called only when no state of
  // that name exists yet.
  [[nodiscard]] virtual std::optional<StateName> state_name() const { return std::nullopt; }
};

// The state this extension's make_state() made, handed back by the chain walk.
template <class State>
State& extension_state(const EvalState& eval) {
  return static_cast<State&>(*eval.extension_state);
}

}  // namespace verdictd
