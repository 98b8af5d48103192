// An iptables or ip6tables command line, parsed as iptables parses it
// (do_parse in iptables/xshared.c): the command, its table and chain, and
// the rule it names.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "iptables/arguments.hpp"
#include "iptables/rule_options.hpp"
#include "packet/address.hpp"
#include "packet/hooks.hpp"

namespace verdictd {

enum class Operation : std::uint8_t {
  kAppend,       // -A
  kInsert,       // -I
  kDelete,       // -D
  kReplace,      // -R
  kCheck,        // -C
  kList,         // -L
  kListRules,    // -S
  kFlush,        // -F
  kZero,         // -Z
  kNewChain,     // -N
  kDeleteChain,  // -X
  kRenameChain,  // -E
  kPolicy,       // -P
  kVersion,      // -V
};

struct Command {
  Operation operation = Operation::kList;
  Family family = Family::kIPv4;
  TableId table = TableId::kFilter;
  std::string chain;                          // empty: every chain (-L, -S, -F, -Z, -X)
  std::optional<std::size_t> rule_number;     // 1-based (-I, -R, -D, -L, -S, -Z)
  std::string new_name;                       // -E
  std::string policy;                         // -P, as written
  std::vector<nlohmann::ordered_json> rules;  // the rule it names (several for -s a,b)
  std::optional<RuleCounters> counters;
  bool verbose = false;
  bool numeric = false;
  bool exact = false;
  bool line_numbers = false;

  // Does it change the ruleset (when it succeeds)?
  [[nodiscard]] bool edits() const;
};

// Parses the arguments after the program name. Throws ImportError (a
// parameter problem, iptables' exit status 2) naming the column.
// `table` is the one it works on without -t (an iptables-restore file's
// current table, which then refuses -t).
Command parse_command(const Arguments& args, Family family, TableId table = TableId::kFilter,
                      bool allow_table_option = true);

// "iptables" or "ip6tables".
std::string_view program_name(Family family);

}  // namespace verdictd
