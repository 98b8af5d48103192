// A match extension as the engine runs it: built from its description
// (extension/description.hpp) and the options a rule gives it. Each
// extension lives in one file of daemon/match/ holding its description,
// evaluation and `iptables -L` text, and registers its description.
#pragma once

#include <optional>

#include "extension/description.hpp"
#include "extension/eval_state.hpp"
#include "extension/extension_state.hpp"
#include "extension/rule_text.hpp"
#include "packet/packet.hpp"

namespace verdictd {

class Match : public StatefulExtension {
 public:
  Match() = default;
  Match(const Match&) = delete;
  Match& operator=(const Match&) = delete;
  Match(Match&&) = delete;
  Match& operator=(Match&&) = delete;
  ~Match() override = default;

  // The final result, negation already applied. Stateful matches update their
  // state only when called, so a failing match before them hides the packet.
  virtual bool matches(const PacketView& packet, EvalState& state) const = 0;
  // A match that names an address of one family restricts the rule to it.
  [[nodiscard]] virtual std::optional<Family> family() const { return std::nullopt; }
  // Hooks where the kernel allows this match, beyond its description's
  // (checked along the jump graph).
  [[nodiscard]] virtual HookMask allowed_hooks() const { return spec().hooks; }
  // The `iptables -L -n` text of the match.
  virtual void list(ListRow& row) const = 0;
  // The iptables-save text: " -m NAME" and the options, from the description.
  virtual void save(SaveLine& line) const;

  [[nodiscard]] const MatchSpec& spec() const { return *spec_; }
  [[nodiscard]] const OptionValues& options() const { return options_; }
  // True for matches that read the packet's connection: the ruleset then
  // needs tracking (and PREROUTING and OUTPUT steered, where it happens).
  [[nodiscard]] bool needs_conntrack() const { return (spec_->needs & kNeedsTracking) != 0; }

  // Called once by the loader after build: what the match was built from.
  void describe(const MatchSpec& spec, OptionValues options) {
    spec_ = &spec;
    options_ = std::move(options);
  }

 private:
  const MatchSpec* spec_ = nullptr;
  OptionValues options_;
};

// A protocol name ("tcp") or number as written, or nullopt when it is neither
// (defined with the protocol field, match/protocol.cpp).
std::optional<std::uint8_t> protocol_number(const Json& value);

}  // namespace verdictd
