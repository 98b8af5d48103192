#include "iptables/rule_listing.hpp"

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

const char* policy_name(Policy p) { return p == Policy::kAccept ? "ACCEPT" : "DROP"; }

}  // namespace

std::string rule_save_text(const Json& rule, TableId table, Family family) {
  try {
    static const Json kNoMatch = Json::object();
    const Json& match = rule.contains("match") ? rule["match"] : kNoMatch;
    SaveLine line;
    line.family = family;
    for (const BuiltMatch& built : build_matches(match, table)) built.match->save(line);
    if (rule.contains("comment")) {
      line.matches += " -m comment --comment " + save_string(rule["comment"].get<std::string>());
    }
    if (rule.contains("target")) {
      line.target = " " + build_target(rule["target"], match, table)->save_for(family);
    } else if (rule.contains("jump")) {
      line.target = " -j " + rule["jump"].get<std::string>();
    } else if (rule.contains("goto")) {
      line.target = " -g " + rule["goto"].get<std::string>();
    }
    return line.str();
  } catch (const FieldError&) {
    return rule.dump();
  }
}

std::string list_rules(const FamilyTables& tables, TableId table_id, const std::string& chain,
                       std::optional<std::size_t> rule_number) {
  const FamilyTable& table = tables.table(table_id);
  std::string out;
  for (const FamilyChain& c : table.chains) {
    if (!chain.empty() && c.name != chain) continue;
    if (rule_number) continue;
    out += c.builtin ? "-P " + c.name + " " + policy_name(c.policy) + "\n" : "-N " + c.name + "\n";
  }
  for (const FamilyChain& c : table.chains) {
    if (!chain.empty() && c.name != chain) continue;
    for (std::size_t r = 0; r < c.rules.size(); ++r) {
      if (rule_number && *rule_number != r + 1) continue;
      out += "-A " + c.name + rule_save_text(c.rules[r], table_id, tables.family) + "\n";
    }
  }
  return out;
}

}  // namespace verdictd
