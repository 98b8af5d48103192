#include "iptables/import.hpp"

#include "iptables/arguments.hpp"
#include "iptables/edit.hpp"
#include "iptables/family_tables.hpp"
#include "iptables/restore.hpp"
#include "ruleset/set_loader.hpp"
#include "set/set_declaration.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

void format(const Json& value, int depth, bool rules, std::string& out) {
  const std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
  if (value.is_object() && !value.empty()) {
    out += "{\n";
    std::size_t i = 0;
    for (const auto& [key, member] : value.items()) {
      out += indent + "  " + Json(key).dump() + ": ";
      format(member, depth + 1, key == "rules", out);
      out += ++i < value.size() ? ",\n" : "\n";
    }
    out += indent + "}";
  } else if (rules && value.is_array() && !value.empty()) {
    out += "[\n";
    for (std::size_t i = 0; i < value.size(); ++i) {
      out += indent + "  " + value[i].dump() + (i + 1 < value.size() ? ",\n" : "\n");
    }
    out += indent + "]";
  } else {
    out += value.dump();
  }
}

}  // namespace

Imported import_rules(const std::vector<ImportInput>& inputs) {
  std::vector<std::pair<std::string, SkippedLine>> skipped;
  FamilyTables ipv4 = empty_tables(Family::kIPv4);
  FamilyTables ipv6 = empty_tables(Family::kIPv6);
  FamilyMask covered = 0;
  // The ipset files first: the rules that name their sets are checked
  // against them.
  Json sets = Json::object();
  for (const ImportInput& input : inputs) {
    if (input.kind == ImportInput::Kind::kIpset) {
      for (const std::string_view line : input_lines(input.text)) {
        const Arguments words = split_restore_line(line);
        if (words.size() >= 2 && words[0].text == "create") {
          sets[words[1].text] = Json{{"file", input.file}, {"format", "ipset"}};
        }
      }
    }
  }
  const SetDeclarations declared = load_sets(sets, "<import>");
  const SetsInScope scope(declared);
  for (const ImportInput& input : inputs) {
    if (input.kind == ImportInput::Kind::kIpset) continue;
    if (input.kind == ImportInput::Kind::kRestore) {
      restore_tables(input.family == Family::kIPv4 ? ipv4 : ipv6, input.text, input.file, {});
      covered |= family_bit(input.family);
      continue;
    }
    const Script script = parse_script(input.text, input.file);
    for (const SkippedLine& line : script.skipped) skipped.emplace_back(input.file, line);
    for (const ScriptCommand& step : script.commands) {
      const Family family = step.command.family;
      covered |= family_bit(family);
      try {
        apply_command(family == Family::kIPv4 ? ipv4 : ipv6, step.command);
      } catch (const CommandError& e) {
        throw LineError(input.file, step.line, 0, e.message, e.status);
      }
    }
  }
  if (covered == 0) covered = kBothFamilies;
  return {merge_family_tables(ipv4, ipv6, covered,
                              sets.empty() ? Json::object() : Json{{"sets", std::move(sets)}}),
          std::move(skipped)};
}

std::string format_ruleset(const Json& ruleset) {
  std::string out;
  format(ruleset, 0, false, out);
  return out + "\n";
}

}  // namespace verdictd
