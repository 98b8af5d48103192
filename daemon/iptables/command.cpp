#include "iptables/command.hpp"

#include <algorithm>
#include <array>

#include "text/decimal.hpp"

namespace verdictd {

namespace {

struct CommandFlag {
  char letter;
  std::string_view long_form;
  Operation operation;
};

constexpr std::array<CommandFlag, 14> kCommands = {{
    {'A', "--append", Operation::kAppend},
    {'I', "--insert", Operation::kInsert},
    {'D', "--delete", Operation::kDelete},
    {'R', "--replace", Operation::kReplace},
    {'C', "--check", Operation::kCheck},
    {'L', "--list", Operation::kList},
    {'S', "--list-rules", Operation::kListRules},
    {'F', "--flush", Operation::kFlush},
    {'Z', "--zero", Operation::kZero},
    {'N', "--new-chain", Operation::kNewChain},
    {'X', "--delete-chain", Operation::kDeleteChain},
    {'E', "--rename-chain", Operation::kRenameChain},
    {'P', "--policy", Operation::kPolicy},
    {'V', "--version", Operation::kVersion},
}};

const CommandFlag* command_flag(const std::string& text) {
  for (const CommandFlag& c : kCommands) {
    if ((text.size() == 2 && text[0] == '-' && text[1] == c.letter) || text == c.long_form) {
      return &c;
    }
  }
  return nullptr;
}

bool takes_rule(Operation op) {
  return op == Operation::kAppend || op == Operation::kInsert || op == Operation::kDelete ||
         op == Operation::kReplace || op == Operation::kCheck;
}

// "-nvL" is "-n -v -L", as getopt reads grouped letters that take no
// argument (the last may be a command that takes its own).
Arguments ungroup(const Arguments& args) {
  Arguments out;
  for (const Argument& a : args) {
    const std::string& t = a.text;
    const bool grouped = t.size() > 2 && t[0] == '-' && t[1] != '-' &&
                         std::all_of(t.begin() + 1, t.end(), [](char c) {
                           return std::string_view("nvxLSFZXV").find(c) != std::string_view::npos;
                         });
    if (!grouped) {
      out.push_back(a);
      continue;
    }
    for (std::size_t k = 1; k < t.size(); ++k) {
      out.push_back({std::string{'-', t[k]}, a.column + k - 1});
    }
  }
  return out;
}

bool is_number(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An optional argument: the next word unless it is an option.
const Argument* optional_after(const Arguments& args, std::size_t i) {
  if (i + 1 >= args.size()) return nullptr;
  const Argument& next = args[i + 1];
  if (next.text.starts_with('-') || next.text == "!") return nullptr;
  return &next;
}

void check_chain_name(const Argument& name) {
  if (name.text.size() > 28) {
    throw ImportError("chain name `" + name.text + "' too long (must be under 29 chars)",
                      name.column);
  }
  if (name.text.empty() || name.text.find_first_of(" \t\n") != std::string::npos) {
    throw ImportError("Invalid chain name `" + name.text + "'", name.column);
  }
  if (name.text[0] == '-' || name.text[0] == '!') {
    throw ImportError("chain name not allowed to start with `" + name.text.substr(0, 1) + "'",
                      name.column);
  }
}

TableId table_by_name(const Argument& name) {
  for (TableId id : kAllTables) {
    if (table_name(id) == name.text) return id;
  }
  throw ImportError("can't initialize " + std::string("iptables table `") + name.text +
                        "': Table does not exist (do you need to insmod?)",
                    name.column);
}

}  // namespace

std::string_view program_name(Family family) {
  return family == Family::kIPv4 ? "iptables" : "ip6tables";
}

bool Command::edits() const {
  switch (operation) {
    case Operation::kCheck:
    case Operation::kList:
    case Operation::kListRules:
    case Operation::kVersion:
      return false;
    default:
      return true;
  }
}

Command parse_command(const Arguments& raw, Family family, TableId table, bool allow_table_option) {
  const Arguments args = ungroup(raw);
  Command command;
  command.family = family;
  command.table = table;
  std::optional<std::size_t> command_column;
  std::optional<Argument> table_argument;
  // The table must be known before the rule's options are checked, and
  // iptables takes -t anywhere: find it first.
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].text == "-t" || args[i].text == "--table") {
      if (!allow_table_option) {
        throw ImportError(
            "The -t option cannot be used in " + std::string(program_name(family)) + "-restore",
            args[i].column);
      }
      if (i + 1 >= args.size()) {
        throw ImportError("option \"" + args[i].text + "\" requires an argument", args[i].column);
      }
      if (table_argument) throw ImportError("multiple -t flags not allowed", args[i].column);
      table_argument = args[i + 1];
      ++i;
    }
  }
  if (table_argument) command.table = table_by_name(*table_argument);
  RuleOptions rule(command.table);
  std::size_t rule_column = 0;
  bool negated = false;
  std::size_t negation_column = 0;
  for (std::size_t i = 0; i < args.size();) {
    const Argument& a = args[i];
    if (a.text == "!") {
      if (negated) throw ImportError("Multiple `!' flags not allowed", a.column);
      negated = true;
      negation_column = a.column;
      ++i;
      continue;
    }
    if (const CommandFlag* flag = command_flag(a.text)) {
      if (negated) throw ImportError("\"!\" cannot stand before " + a.text, negation_column);
      if (command_column) {
        throw ImportError("Can't use -" + std::string{flag->letter} + " with another command",
                          a.column);
      }
      command_column = a.column;
      command.operation = flag->operation;
      const Operation op = flag->operation;
      std::size_t next = i + 1;
      const auto required = [&]() -> const Argument& {
        if (next >= args.size()) {
          throw ImportError("option \"" + a.text + "\" requires an argument", a.column);
        }
        return args[next++];
      };
      const auto optional = [&]() -> const Argument* {
        const Argument* value = optional_after(args, next - 1);
        if (value != nullptr) ++next;
        return value;
      };
      switch (op) {
        case Operation::kAppend:
        case Operation::kCheck:
        case Operation::kNewChain:
          command.chain = required().text;
          if (op == Operation::kNewChain) check_chain_name(args[next - 1]);
          break;
        case Operation::kInsert:
        case Operation::kDelete:
        case Operation::kReplace: {
          command.chain = required().text;
          const Argument* number = optional();
          if (number != nullptr) {
            const auto n = parse_decimal<std::size_t>(number->text);
            if (!n || *n == 0) {
              throw ImportError("Invalid rule number `" + number->text + "'", number->column);
            }
            command.rule_number = *n;
          } else if (op == Operation::kReplace) {
            throw ImportError("-R requires a rule number", a.column);
          }
          break;
        }
        case Operation::kList:
        case Operation::kListRules:
        case Operation::kZero:
          if (const Argument* chain = optional()) {
            command.chain = chain->text;
            if (const Argument* number = optional()) {
              if (!is_number(number->text) || number->text == "0") {
                throw ImportError("Invalid rule number `" + number->text + "'", number->column);
              }
              command.rule_number = std::stoul(number->text);
            }
          }
          break;
        case Operation::kFlush:
        case Operation::kDeleteChain:
          if (const Argument* chain = optional()) command.chain = chain->text;
          break;
        case Operation::kRenameChain:
          command.chain = required().text;
          command.new_name = required().text;
          check_chain_name(args[next - 1]);
          break;
        case Operation::kPolicy:
          command.chain = required().text;
          command.policy = required().text;
          break;
        case Operation::kVersion:
          break;
      }
      i = next;
      continue;
    }
    if (a.text == "-t" || a.text == "--table") {
      i += 2;
      continue;
    }
    if (a.text == "-v" || a.text == "--verbose") {
      command.verbose = true;
    } else if (a.text == "-n" || a.text == "--numeric") {
      command.numeric = true;
    } else if (a.text == "-x" || a.text == "--exact") {
      command.exact = true;
    } else if (a.text == "--line-numbers") {
      command.line_numbers = true;
    } else if (a.text == "-w" || a.text == "--wait" || a.text == "-W" ||
               a.text == "--wait-interval") {
      // verdictd serialises commands itself; the wait is accepted, with its
      // optional seconds.
      if (optional_after(args, i) != nullptr && is_number(args[i + 1].text)) ++i;
    } else if (a.text.starts_with("--wait=") || a.text.starts_with("--wait-interval=") ||
               (a.text == "-4" && family == Family::kIPv4) ||
               (a.text == "-6" && family == Family::kIPv6) || a.text == "--ipv4" ||
               a.text == "--ipv6") {
      // The wait, given with "=", and the family this command is for already.
    } else {
      const std::size_t after = rule.take(args, i, negated);
      if (after == i) {
        if (a.text.starts_with('-')) {
          throw ImportError("unknown option \"" + a.text + "\"", a.column);
        }
        throw ImportError("Bad argument `" + a.text + "'", a.column);
      }
      if (rule_column == 0) rule_column = a.column;
      negated = false;
      i = after;
      continue;
    }
    if (negated) throw ImportError("\"!\" cannot stand before " + a.text, negation_column);
    ++i;
  }
  if (negated) throw ImportError("\"!\" at the end of the line", negation_column);
  if (!command_column) {
    throw ImportError("no command specified", args.empty() ? 0 : args.front().column);
  }
  const bool rule_by_number = command.operation == Operation::kDelete && command.rule_number;
  if (takes_rule(command.operation) && !rule_by_number) {
    command.rules = rule.rules();
    command.counters = rule.counters();
  } else if (!rule.empty()) {
    throw ImportError("this command takes no rule", rule_column);
  }
  return command;
}

}  // namespace verdictd
