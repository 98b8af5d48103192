// A match extension: one key of a rule's "match" object. Each extension lives
// in one file of daemon/match/ holding its parsing, evaluation, listing and
// iptables-save export, and registers itself by key name.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "extension/eval_state.hpp"
#include "extension/extension_state.hpp"
#include "extension/rule_text.hpp"
#include "packet/hooks.hpp"
#include "packet/packet.hpp"

namespace verdictd {

using Json = nlohmann::ordered_json;

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
  // Hooks where the kernel allows this match (checked along the jump graph).
  [[nodiscard]] virtual HookMask allowed_hooks() const { return kEveryHook; }
  // True for matches that read the packet's connection: the ruleset then
  // needs tracking (and PREROUTING and OUTPUT steered, where it happens).
  [[nodiscard]] virtual bool needs_conntrack() const { return false; }
  virtual void list(ListRow& row) const = 0;
  virtual void save(SaveLine& line) const = 0;
};

// What an extension sees while it is built.
struct MatchArgs {
  std::string_view key;  // without the "!" prefix
  const Json& value;
  bool negated;            // the key was written "!key"
  const Json& rule_match;  // the whole "match" object, for keys that depend on others
  TableId table;
};

using MatchFactory = std::unique_ptr<Match> (*)(const MatchArgs& args);

struct MatchInfo {
  MatchFactory factory;
  bool negatable;  // iptables allows `!` for this option
};

// Registers a match key; used through a static MatchRegistrar in each file.
void register_match(std::string_view key, MatchInfo info);
const MatchInfo* find_match(std::string_view key);

struct MatchRegistrar {
  MatchRegistrar(std::string_view key, MatchInfo info) { register_match(key, info); }
};

// The rule's protocol number when the rule has a non-negated "protocol" key
// (defined with the protocol match).
std::optional<std::uint8_t> rule_protocol(const Json& rule_match);
// A protocol name ("tcp") or number as written, or nullopt when it is neither.
std::optional<std::uint8_t> protocol_number(const Json& value);

}  // namespace verdictd
