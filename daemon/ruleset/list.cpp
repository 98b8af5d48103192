#include "ruleset/list.hpp"

#include <stdexcept>

#include "ruleset/chain_order.hpp"

namespace verdictd {

namespace {

std::string padded(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

std::string right(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

// iptables -v without -x: numbers over 99999 shrink to K, M, G, T.
std::string short_number(std::uint64_t n) {
  if (n <= 99999) return std::to_string(n);
  for (const char* unit : {"K", "M", "G", "T"}) {
    n = (n + 500) / 1000;
    if (n <= 9999) return std::to_string(n) + unit;
  }
  return std::to_string(n) + "P";
}

// A counter column as iptables prints it: shrunk in 5 columns, or with -x in
// full in 8 (xtables_print_num).
std::string counter(std::uint64_t n, const ListOptions& o) {
  return o.exact ? right(std::to_string(n), 8) : right(short_number(n), 5);
}

// iptables prints '!' or a space before a negatable column, then pads it.
std::string negatable(const std::string& text, std::size_t width) {
  return text.starts_with('!') ? padded(text, width + 1) : " " + padded(text, width);
}

int references(const Table& table, int chain_index) {
  int count = 0;
  for (const Chain& chain : table.chains) {
    for (const Rule& rule : chain.rules) count += rule.jump_chain == chain_index ? 1 : 0;
  }
  return count;
}

std::string header(const ListOptions& o) {
  std::string h = o.line_numbers ? "num  " : "";
  if (o.verbose) h += o.exact ? "    pkts      bytes " : " pkts bytes ";
  h += "target     prot opt ";
  if (o.verbose) h += "in     out     ";
  return h + "source               destination";
}

std::string rule_row(const Table& table, const Rule& rule, const Counters& counters,
                     std::size_t number, const ListOptions& o) {
  const Family family = rule.family.value_or(o.family.value_or(Family::kIPv4));
  ListRow row;
  row.family = family;
  for (const auto& match : rule.matches) match->list(row);
  const char* any = family == Family::kIPv4 ? "0.0.0.0/0" : "::/0";
  if (row.source.empty()) row.source = any;
  if (row.destination.empty()) row.destination = any;

  std::string target;
  if (rule.jump_chain >= 0) {
    target = table.chains[static_cast<std::size_t>(rule.jump_chain)].name;
  } else if (rule.target) {
    target = std::string(rule.target->name());
  }
  std::string line = o.line_numbers ? padded(std::to_string(number), 4) + " " : "";
  if (o.verbose) {
    line += counter(counters.packets.load(), o) + " " + counter(counters.bytes.load(), o) + " ";
  }
  line += padded(target, 9) + " " + negatable(row.protocol, 5) + row.option + " ";
  if (o.verbose) line += " " + padded(row.in, 6) + " " + padded(row.out, 6) + " ";
  line += negatable(row.source, 19) + " " + negatable(row.destination, 19) + " ";
  if (rule.is_goto) line += "[goto] ";
  if (!row.extra.empty()) line += " " + row.extra;
  if (rule.has_comment) line += " /* " + rule.comment + " */";
  if (rule.target && !rule.target->list_extra_for(family).empty()) {
    line += " " + rule.target->list_extra_for(family);
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

bool applies_to(const Table& table, const Rule& rule, Family family) {
  return (table.families & family_bit(family)) != 0 && (!rule.family || *rule.family == family);
}

std::string_view policy_name(Policy policy) {
  return policy == Policy::kAccept ? "ACCEPT" : "DROP";
}

// "DROP"; with no family asked and policies that differ, "ipv4 DROP, ipv6 ACCEPT".
// A family the table does not cover passes it: ACCEPT.
std::string policy_text(const Table& table, const Chain& chain, std::optional<Family> family) {
  const auto verdict = [&](Family f) {
    return (table.families & family_bit(f)) != 0 ? chain.policy(f).verdict : Policy::kAccept;
  };
  if (family) return std::string(policy_name(verdict(*family)));
  if (verdict(Family::kIPv4) == verdict(Family::kIPv6)) {
    return std::string(policy_name(verdict(Family::kIPv4)));
  }
  return "ipv4 " + std::string(policy_name(verdict(Family::kIPv4))) + ", ipv6 " +
         std::string(policy_name(verdict(Family::kIPv6)));
}

std::string chain_text(const Table& table, const Chain& chain, const ChainState& state,
                       const ListOptions& o) {
  const int index = static_cast<int>(&chain - table.chains.data());
  std::string out = "Chain " + chain.name;
  if (chain.builtin) {
    out += " (policy " + policy_text(table, chain, o.family);
    if (o.verbose) {
      std::uint64_t packets = 0;
      std::uint64_t bytes = 0;
      for (Family f : kAllFamilies) {
        if (o.family && f != *o.family) continue;
        packets += state.policy(f).packets.load();
        bytes += state.policy(f).bytes.load();
      }
      const auto number = [&o](std::uint64_t n) {
        return o.exact ? std::to_string(n) : short_number(n);
      };
      out += " " + number(packets) + " packets, " + number(bytes) + " bytes";
    }
    out += ")\n";
  } else {
    out += " (" + std::to_string(references(table, index)) + " references)\n";
  }
  out += header(o) + "\n";
  std::size_t number = 0;
  for (std::size_t r = 0; r < chain.rules.size(); ++r) {
    const Rule& rule = chain.rules[r];
    if (o.family && !applies_to(table, rule, *o.family)) continue;
    out += rule_row(table, rule, state.rules[r]->counters, ++number, o) + "\n";
  }
  return out;
}

}  // namespace

std::string list_table(const Ruleset& ruleset, const RulesetState& state,
                       const ListOptions& options) {
  const Table& table = ruleset.table(options.table);
  std::string out;
  for (const Chain* chain : chains_in_display_order(table)) {
    if (options.chain && chain->name != *options.chain) continue;
    if (options.family && (chain->families & family_bit(*options.family)) == 0) continue;
    if (!out.empty()) out += "\n";
    const auto index = static_cast<std::size_t>(chain - table.chains.data());
    out += chain_text(table, *chain, state.chain(options.table, index), options);
  }
  if (out.empty()) {
    throw std::invalid_argument("no chain named \"" + options.chain.value_or("") + "\" in table " +
                                std::string(table_name(options.table)));
  }
  return out;
}

std::size_t rule_count(const Ruleset& ruleset) {
  std::size_t count = 0;
  for (const Table& table : ruleset.tables) {
    for (const Chain& chain : table.chains) count += chain.rules.size();
  }
  return count;
}

}  // namespace verdictd
