#include "service/iptables_command.hpp"

#include "iptables/arguments.hpp"
#include "iptables/command.hpp"
#include "iptables/edit.hpp"
#include "iptables/family_tables.hpp"
#include "iptables/import.hpp"
#include "iptables/restore.hpp"
#include "iptables/rule_listing.hpp"
#include "ruleset/list.hpp"
#include "ruleset/save.hpp"
#include "set/set_declaration.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

Json answer(int status, const std::string& out, const std::string& err) {
  return {{"ok", true}, {"status", status}, {"stdout", out}, {"stderr", err}};
}

Family family_of(const Json& request) {
  return request.value("family", 4) == 6 ? Family::kIPv6 : Family::kIPv4;
}

// Both families' views of the ruleset in force, and the document that
// holds them after a change of `changed`'s view.
struct Views {
  Json root;
  FamilyTables ipv4;
  FamilyTables ipv6;

  Views(const RulesetInForce& in_force, const std::string& document)
      : root(document.empty() ? Json::object() : Json::parse(document)),
        ipv4(family_tables(root, *in_force.ruleset, Family::kIPv4)),
        ipv6(family_tables(root, *in_force.ruleset, Family::kIPv6)) {}

  FamilyTables& of(Family f) { return f == Family::kIPv4 ? ipv4 : ipv6; }

  // The family a command changed is covered from now on, as iptables'
  // rules always apply.
  [[nodiscard]] std::string document(const Ruleset& loaded, Family changed) const {
    return format_ruleset(
        merge_family_tables(ipv4, ipv6, loaded.families | family_bit(changed), root));
  }
};

// -Z: the counters of a chain (or the table's, or one rule's) for one family.
void zero_counters(const RulesetInForce& in_force, const Command& command) {
  const Table& table = in_force.ruleset->table(command.table);
  for (std::size_t c = 0; c < table.chains.size(); ++c) {
    const Chain& chain = table.chains[c];
    if (!command.chain.empty() && chain.name != command.chain) continue;
    const ChainState& state = in_force.state->chain(command.table, c);
    if (chain.builtin && !command.rule_number) state.policy(command.family).zero();
    std::size_t number = 0;
    for (std::size_t r = 0; r < chain.rules.size(); ++r) {
      const Rule& rule = chain.rules[r];
      if (rule.family && *rule.family != command.family) continue;
      ++number;
      if (!command.rule_number || *command.rule_number == number) state.rules[r]->counters.zero();
    }
  }
}

}  // namespace

IptablesOutcome run_iptables(const RulesetInForce& in_force, const std::string& document,
                             const Json& request) {
  const SetsInScope sets(in_force.ruleset->sets);  // the sets its rules may name
  const Family family = family_of(request);
  Arguments args;
  std::size_t column = 1;
  for (const Json& word : request.at("arguments")) {
    args.push_back({word.get<std::string>(), column});
    column += args.back().text.size() + 1;
  }
  Command command;
  try {
    command = parse_command(args, family);
  } catch (const ImportError& e) {
    return {answer(2, "", error_text(family, {2, e.what()})), std::nullopt};
  }
  const std::string program(program_name(family));
  if (command.operation == Operation::kVersion) {
    return {answer(0, program + " v1.8.9 (verdictd)\n", ""), std::nullopt};
  }
  Views views(in_force, document);
  try {
    apply_command(views.of(family), command);
  } catch (const CommandError& e) {
    return {answer(e.status, "", error_text(family, e)), std::nullopt};
  }
  switch (command.operation) {
    case Operation::kList: {
      ListOptions options;
      options.table = command.table;
      if (!command.chain.empty()) options.chain = command.chain;
      options.verbose = command.verbose;
      options.line_numbers = command.line_numbers;
      options.exact = command.exact;
      options.family = family;
      return {answer(0, list_table(*in_force.ruleset, *in_force.state, options), ""), std::nullopt};
    }
    case Operation::kListRules:
      return {
          answer(0, list_rules(views.of(family), command.table, command.chain, command.rule_number),
                 ""),
          std::nullopt};
    case Operation::kCheck:
      return {answer(0, "", ""), std::nullopt};
    case Operation::kZero:
      zero_counters(in_force, command);
      return {answer(0, "", ""), std::nullopt};
    default:
      return {answer(0, "", ""), views.document(*in_force.ruleset, family)};
  }
}

IptablesOutcome run_iptables_restore(const RulesetInForce& in_force, const std::string& document,
                                     const Json& request) {
  const SetsInScope sets(in_force.ruleset->sets);
  const Family family = family_of(request);
  Views views(in_force, document);
  try {
    restore_tables(views.of(family), request.at("text").get<std::string>(),
                   request.value("file", std::string("<stdin>")),
                   {.noflush = request.value("noflush", false)});
  } catch (const LineError& e) {
    return {
        answer(e.status, "", std::string(program_name(family)) + "-restore: " + e.what() + "\n"),
        std::nullopt};
  }
  if (request.value("test", false)) return {answer(0, "", ""), std::nullopt};
  return {answer(0, "", ""), views.document(*in_force.ruleset, family)};
}

Json run_iptables_save(const RulesetInForce& in_force, const Json& request) {
  const Family family = family_of(request);
  std::string text = save_ruleset(
      *in_force.ruleset, family, request.value("counters", false) ? in_force.state.get() : nullptr);
  if (const auto table = request.find("table"); table != request.end()) {
    // Only the "*TABLE" … "COMMIT" block of that table, after the header line.
    const std::string start = "*" + table->get<std::string>() + "\n";
    const auto from = text.find(start);
    std::string header = text.substr(0, text.find('\n') + 1);
    if (from == std::string::npos) {
      text = header;
    } else {
      const auto to = text.find("COMMIT\n", from);
      text = header + text.substr(from, to + 7 - from);
    }
  }
  return answer(0, text, "");
}

}  // namespace verdictd
