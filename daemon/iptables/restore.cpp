#include "iptables/restore.hpp"

#include "iptables/arguments.hpp"
#include "iptables/command.hpp"
#include "iptables/edit.hpp"

namespace verdictd {

namespace {

std::string_view trimmed(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  return line;
}

// "[12:345]" at the start of a rule or chain line.
bool counters_ok(std::string_view text) {
  if (text.size() < 5 || text.front() != '[' || text.back() != ']') return false;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  return digits(text.substr(1, colon - 1)) &&
         digits(text.substr(colon + 1, text.size() - colon - 2));
}

}  // namespace

void restore_tables(FamilyTables& tables, std::string_view text, const std::string& file,
                    const RestoreOptions& options) {
  FamilyTables staged = tables;
  bool in_table = false;
  TableId table = TableId::kFilter;
  std::size_t table_line = 0;
  std::size_t number = 0;
  const auto error = [&](std::size_t column, const std::string& message) {
    return LineError(file, number, column, message);
  };
  for (const std::string_view raw : input_lines(text)) {
    const std::string_view line = trimmed(raw);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '*') {
      if (in_table) {
        throw error(1, "COMMIT expected: table '" + std::string(table_name(table)) + "' (line " +
                           std::to_string(table_line) + ") is not committed");
      }
      const std::string name(line.substr(1));
      bool known = false;
      for (TableId id : kAllTables) {
        if (table_name(id) == name) {
          table = id;
          in_table = known = true;
        }
      }
      if (!known) throw error(2, "table '" + name + "' does not exist");
      table_line = number;
      if (!options.noflush) staged.table(table) = empty_table(table);
      continue;
    }
    if (line == "COMMIT") {
      if (!in_table) throw error(1, "COMMIT outside a table");
      in_table = false;
      continue;
    }
    if (!in_table) throw error(1, "a line outside a table (a \"*TABLE\" line must come first)");
    FamilyTable& current = staged.table(table);
    if (line.front() == ':') {
      // ":CHAIN POLICY [packets:bytes]"
      Arguments words;
      try {
        words = split_restore_line(line.substr(1));
      } catch (const ImportError& e) {
        throw error(e.column + 1, e.what());
      }
      if (words.size() < 2 || words.size() > 3 ||
          (words.size() == 3 && !counters_ok(words[2].text))) {
        throw error(1, "expected \":CHAIN POLICY [packets:bytes]\"");
      }
      const std::string& name = words[0].text;
      const std::string& policy = words[1].text;
      FamilyChain* chain = current.chain(name);
      if (chain != nullptr && chain->builtin) {
        if (policy == "-") {
          throw error(words[1].column + 1, "Can't set policy `-' on built-in chain `" + name + "'");
        }
        Command set;
        set.operation = Operation::kPolicy;
        set.family = tables.family;
        set.table = table;
        set.chain = name;
        set.policy = policy;
        try {
          apply_command(staged, set);
        } catch (const CommandError& e) {
          throw LineError(file, number, words[1].column + 1, e.message, e.status);
        }
        continue;
      }
      if (policy != "-") {
        throw error(words[1].column + 1,
                    "a user chain's policy is \"-\"; only built-in chains have one, and " + name +
                        " is none of " + std::string(table_name(table)) + "'s");
      }
      if (chain != nullptr) {
        chain->rules.clear();  // as iptables-restore --noflush flushes a chain it declares
      } else {
        try {
          static_cast<void>(
              parse_command({{"-N", 1}, {name, words[0].column + 1}}, tables.family, table));
        } catch (const ImportError& e) {
          throw error(e.column, e.what());
        }
        current.chains.push_back({name, false, Policy::kAccept, {}});
      }
      continue;
    }
    Arguments args;
    try {
      args = split_restore_line(line);
    } catch (const ImportError& e) {
      throw error(e.column, e.what());
    }
    if (!args.empty() && args.front().text.starts_with('[')) {
      if (!counters_ok(args.front().text)) {
        throw error(1, "bad counters \"" + args.front().text + "\"");
      }
      args.erase(args.begin());
    }
    try {
      const Command command = parse_command(args, tables.family, table, false);
      if (!command.edits()) {
        throw error(args.front().column, "iptables-restore takes commands that change the tables");
      }
      apply_command(staged, command);
    } catch (const ImportError& e) {
      throw error(e.column, e.what());
    } catch (const CommandError& e) {
      throw LineError(file, number, args.empty() ? 1 : args.front().column, e.message, e.status);
    }
  }
  if (in_table) {
    ++number;  // the end of the input
    throw error(1, "COMMIT expected: table '" + std::string(table_name(table)) + "' (line " +
                       std::to_string(table_line) + ") is not committed");
  }
  tables = std::move(staged);
}

}  // namespace verdictd
