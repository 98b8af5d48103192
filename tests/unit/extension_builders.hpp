// Builds one match or target the way the loader does, for the tests of the
// extensions, and reports the error building it throws.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/rule_text.hpp"
#include "extension/target.hpp"

namespace verdictd::test {

// The match that `written_key` ("dport", "!source") of a rule's "match"
// object builds.
inline std::unique_ptr<Match> build(const std::string& rule_text, const std::string& written_key) {
  const Json rule = Json::parse(rule_text);
  const bool negated = written_key.starts_with('!');
  const std::string key = written_key.substr(negated ? 1 : 0);
  const MatchInfo* info = find_match(key);
  if (info == nullptr) throw std::logic_error("no match " + key);
  return info->factory(MatchArgs{key, rule.at(written_key), negated, rule, TableId::kFilter});
}

// "SUFFIX: MESSAGE" of the FieldError building the match throws, or "built".
inline std::string build_error(const std::string& rule_text, const std::string& written_key) {
  try {
    build(rule_text, written_key);
  } catch (const FieldError& e) {
    return e.pointer_suffix + ": " + e.what();
  }
  return "built";
}

// A target as written in a rule's "target": a name, or {"NAME": options}.
inline std::unique_ptr<Target> build(const std::string& target_text,
                                     TableId table = TableId::kFilter) {
  const Json target = Json::parse(target_text);
  static const Json kNoOptions;
  static const Json kNoMatch = Json::object();
  const bool bare = target.is_string();
  const std::string name = bare ? target.get<std::string>() : target.begin().key();
  TargetFactory factory = find_target(name);
  if (factory == nullptr) throw std::logic_error("no target " + name);
  return factory(TargetArgs{name, bare ? kNoOptions : target.begin().value(), kNoMatch, table});
}

// "SUFFIX: MESSAGE" of the FieldError building the target throws, or "built".
inline std::string build_error(const std::string& target_text, TableId table = TableId::kFilter) {
  try {
    build(target_text, table);
  } catch (const FieldError& e) {
    return e.pointer_suffix + ": " + e.what();
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

}  // namespace verdictd::test
