#include "ruleset/save.hpp"

#include <algorithm>

#include "extension/values.hpp"
#include "ruleset/chain_order.hpp"

namespace verdictd {

namespace {

bool applies_to(const Rule& rule, Family family) { return !rule.family || *rule.family == family; }

std::string counters_text(const Counters& c) {
  return "[" + std::to_string(c.packets.load()) + ":" + std::to_string(c.bytes.load()) + "]";
}

std::string rule_line(const Table& table, const Rule& rule, Family family) {
  SaveLine line;
  line.family = family;
  for (const auto& match : rule.matches) match->save(line);
  if (rule.has_comment) line.matches += " -m comment --comment " + save_string(rule.comment);
  if (rule.jump_chain >= 0) {
    line.target = std::string(rule.is_goto ? " -g " : " -j ") +
                  table.chains[static_cast<std::size_t>(rule.jump_chain)].name;
  } else if (rule.target) {
    line.target = " " + rule.target->save_for(family);
  }
  return line.str();
}

}  // namespace

std::string save_ruleset(const Ruleset& ruleset, Family family, const RulesetState* counters) {
  std::string out = "# verdictd ruleset " + ruleset.source + " for " +
                    (family == Family::kIPv4 ? "iptables" : "ip6tables") + "-restore\n";
  for (TableId id : kAllTables) {
    const Table& table = ruleset.table(id);
    if (table.is_default(family)) continue;
    out += "*" + std::string(table_name(id)) + "\n";
    std::vector<const Chain*> chains = chains_in_display_order(table);
    std::erase_if(chains, [family](const Chain* chain) {
      return (chain->families & family_bit(family)) == 0;
    });
    const auto state = [&](const Chain* chain) -> const ChainState& {
      return counters->chain(id, static_cast<std::size_t>(chain - table.chains.data()));
    };
    for (const Chain* chain : chains) {
      out += ":" + chain->name;
      if (chain->builtin) {
        out += chain->policy(family).verdict == Policy::kAccept ? " ACCEPT " : " DROP ";
        out += counters != nullptr ? counters_text(state(chain).policy(family)) : "[0:0]";
      } else {
        out += " - [0:0]";
      }
      out += "\n";
    }
    for (const Chain* chain : chains) {
      for (std::size_t r = 0; r < chain->rules.size(); ++r) {
        const Rule& rule = chain->rules[r];
        if (!applies_to(rule, family)) continue;
        if (counters != nullptr) out += counters_text(state(chain).rules[r]->counters) + " ";
        out += "-A " + chain->name + rule_line(table, rule, family) + "\n";
      }
    }
    out += "COMMIT\n";
  }
  return out;
}

}  // namespace verdictd
