#include "iptables/script.hpp"

#include <map>
#include <optional>
#include <regex>

#include "iptables/arguments.hpp"

namespace verdictd {

namespace {

// The programs whose lines are imported, and the family each is for.
std::optional<Family> iptables_program(const std::string& word) {
  const auto slash = word.rfind('/');
  const std::string name = slash == std::string::npos ? word : word.substr(slash + 1);
  for (const char* v4 : {"iptables", "iptables-legacy", "iptables-nft"}) {
    if (name == v4) return Family::kIPv4;
  }
  for (const char* v6 : {"ip6tables", "ip6tables-legacy", "ip6tables-nft"}) {
    if (name == v6) return Family::kIPv6;
  }
  return std::nullopt;
}

// Words after which a shell line goes on with another command.
bool is_operator(const std::string& word) {
  return word == ";" || word == "&&" || word == "||" || word == "|" || word == "&" ||
         word.starts_with(">") || word.starts_with("<") || word.starts_with("2>");
}

}  // namespace

Script parse_script(std::string_view text, const std::string& file) {
  Script script;
  std::map<std::string, std::string, std::less<>> variables;
  const auto lookup = [&variables](const std::string& name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
  static const std::regex kAssignment(R"(^(export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$)");
  const std::vector<std::string_view> lines = input_lines(text);
  for (std::size_t next = 0; next < lines.size();) {
    // One logical line: a backslash at the end continues it.
    const std::size_t first = next + 1;
    std::string line;
    for (; next < lines.size(); ++next) {
      const std::string_view physical = lines[next];
      if (physical.empty() || physical.back() != '\\') {
        line += physical;
        ++next;
        break;
      }
      line += physical.substr(0, physical.size() - 1);
      line += ' ';
    }
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const std::string body = line.substr(start);
    std::smatch assignment;
    try {
      if (std::regex_match(body, assignment, kAssignment)) {
        const Arguments value = split_shell_line(assignment[3].str(), lookup);
        if (value.size() <= 1) {
          variables[assignment[2].str()] = value.empty() ? std::string() : value.front().text;
          continue;
        }
      }
      Arguments words = split_shell_line(line, lookup);
      if (words.empty()) continue;
      const std::optional<Family> family = iptables_program(words.front().text);
      if (!family) {
        script.skipped.push_back({first, body, "not an iptables command"});
        continue;
      }
      const auto cut = std::find_if(words.begin(), words.end(),
                                    [](const Argument& w) { return is_operator(w.text); });
      if (cut != words.end()) {
        script.skipped.push_back(
            {first, body, "only the iptables command before \"" + cut->text + "\" is imported"});
        words.erase(cut, words.end());
      }
      words.erase(words.begin());
      Command command = parse_command(words, *family);
      if (!command.edits() || command.operation == Operation::kZero) {
        script.skipped.push_back({first, body, "changes no rule"});
        continue;
      }
      script.commands.push_back({first, std::move(command)});
    } catch (const ImportError& e) {
      throw LineError(file, first, e.column, e.what());
    }
  }
  return script;
}

}  // namespace verdictd
