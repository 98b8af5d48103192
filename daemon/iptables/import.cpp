#include "iptables/import.hpp"

#include "iptables/arguments.hpp"
#include "iptables/edit.hpp"
#include "iptables/family_tables.hpp"
#include "iptables/restore.hpp"

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
  Imported imported;
  FamilyTables ipv4 = empty_tables(Family::kIPv4);
  FamilyTables ipv6 = empty_tables(Family::kIPv6);
  FamilyMask covered = 0;
  for (const ImportInput& input : inputs) {
    if (input.kind == ImportInput::Kind::kRestore) {
      restore_tables(input.family == Family::kIPv4 ? ipv4 : ipv6, input.text, input.file, {});
      covered |= family_bit(input.family);
      continue;
    }
    const Script script = parse_script(input.text, input.file);
    for (const SkippedLine& line : script.skipped) imported.skipped.emplace_back(input.file, line);
    for (const ScriptCommand& step : script.commands) {
      const Family family = step.command.family;
      covered |= family_bit(family);
      try {
        apply_command(family == Family::kIPv4 ? ipv4 : ipv6, step.command);
      } catch (const CommandError& e) {
        throw LineError(input.file, step.line, 0, e.message);
      }
    }
  }
  if (covered == 0) covered = kBothFamilies;
  imported.ruleset = merge_family_tables(ipv4, ipv6, covered, Json::object());
  return imported;
}

std::string format_ruleset(const Json& ruleset) {
  std::string out;
  format(ruleset, 0, false, out);
  return out + "\n";
}

}  // namespace verdictd
