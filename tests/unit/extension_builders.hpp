// Builds one match or target the way the loader does, for the tests of the
// extensions, and reports the error building it throws.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/rule_text.hpp"
#include "extension/target.hpp"

namespace verdictd::test {

// The match that owns `written_key` ("dport", "!source") of a rule's "match"
// object, built as the loader builds the rule's matches.
inline std::unique_ptr<Match> build(const std::string& rule_text, const std::string& written_key,
                                    TableId table = TableId::kFilter) {
  const Json rule = Json::parse(rule_text);
  const std::string key = written_key.substr(written_key.starts_with('!') ? 1 : 0);
  for (BuiltMatch& built : build_matches(rule, table)) {
    if (built.match->options().has(key)) return std::move(built.match);
  }
  throw std::logic_error("no match built from " + written_key);
}

// "SUFFIX: MESSAGE" of the FieldError building the match throws, or
// "built"; SUFFIX leads from the key's value (the loader's from the rule).
inline std::string build_error(const std::string& rule_text, const std::string& written_key) {
  try {
    build(rule_text, written_key);
  } catch (const FieldError& e) {
    std::string suffix = e.pointer_suffix;
    const std::string own = "/" + written_key;
    if (suffix.starts_with(own)) suffix.erase(0, own.size());
    return suffix + ": " + e.what();
  }
  return "built";
}

// A target as written in a rule's "target": a name, or {"NAME": options};
// in a rule whose "match" object is `match_text` (its protocol, which ports
// need).
inline std::unique_ptr<Target> build(const std::string& target_text,
                                     TableId table = TableId::kFilter,
                                     const std::string& match_text = "{}") {
  return build_target(Json::parse(target_text), Json::parse(match_text), table);
}

// "SUFFIX: MESSAGE" of the FieldError building the target throws, or
// "built"; SUFFIX leads from the target's options.
inline std::string build_error(const std::string& target_text, TableId table = TableId::kFilter,
                               const std::string& match_text = "{}") {
  try {
    build(target_text, table, match_text);
  } catch (const FieldError& e) {
    std::string suffix = e.pointer_suffix;
    const Json target = Json::parse(target_text);
    if (target.is_object()) {
      const std::string own = "/" + target.begin().key();
      if (suffix.starts_with(own)) suffix.erase(0, own.size());
    }
    return suffix + ": " + e.what();
  }
  return "built";
}

// The match's part of an `iptables -L` row ("tcp dpt:22").
inline std::string listed(const Match& match) {
  ListRow row;
  match.list(row);
  return row.extra;
}

// The match's part of an iptables-save line (" -m tcp --dport 22").
inline std::string saved(const Match& match) {
  SaveLine line;
  match.save(line);
  return line.str();
}

// What a match made of a packet: its result, and whether it dropped the
// packet on the spot (the kernel's hotdrop, for a header cut short).
struct MatchOutcome {
  bool matched;
  bool hotdrop;
  bool operator==(const MatchOutcome&) const = default;
};

inline MatchOutcome run_match(const Match& match, std::span<const std::uint8_t> bytes) {
  EvalState state;
  const bool matched = match.matches(PacketView::parse(bytes), state);
  return {matched, state.hotdrop};
}

}  // namespace verdictd::test
