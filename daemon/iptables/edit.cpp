#include "iptables/edit.hpp"

#include <algorithm>

#include "extension/description.hpp"
#include "iptables/rule_listing.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

[[noreturn]] void fail(std::string message, int status = 1) {
  throw CommandError{status, std::move(message)};
}

constexpr const char* kNoSuchChain = "No chain/target/match by that name";

FamilyChain& existing_chain(FamilyTable& table, const std::string& name) {
  FamilyChain* chain = table.chain(name);
  if (chain == nullptr) fail(kNoSuchChain);
  return *chain;
}

// The chain a rule jumps or goes to, if any.
const std::string* jump_of(const Json& rule) {
  for (const char* key : {"jump", "goto"}) {
    if (rule.contains(key)) return &rule[key].get_ref<const std::string&>();
  }
  return nullptr;
}

std::size_t references(const FamilyTable& table, const std::string& name) {
  std::size_t count = 0;
  for (const FamilyChain& chain : table.chains) {
    for (const Json& rule : chain.rules) {
      const std::string* jump = jump_of(rule);
      count += static_cast<std::size_t>(jump != nullptr && *jump == name);
    }
  }
  return count;
}

// Rules may jump only to user chains that exist (translate_jump in
// libiptc; the kernel's own targets are found before).
void check_jumps(const FamilyTable& table, const Command& command) {
  for (const Json& rule : command.rules) {
    const std::string* jump = jump_of(rule);
    if (jump == nullptr) continue;
    const FamilyChain* chain = table.chain(*jump);
    if (chain == nullptr || chain->builtin) {
      fail("Couldn't load target `" + *jump + "':No such file or directory", 2);
    }
  }
}

// The first rule of `chain` that is `rule`, as iptables finds it: by what it
// does, not by how it is written ("ssh" is 22).
// libiptc's answer when -C or -D finds no such rule: a rule jumping to a
// user chain is looked up with that chain, which then "does not exist".
[[noreturn]] void no_such_rule(const Json& rule) {
  fail(jump_of(rule) != nullptr ? kNoSuchChain
                                : "Bad rule (does a matching rule exist in that chain?)");
}

// Where `rule` is in `chain`, as iptables finds it: by what it does, not by
// how it is written ("ssh" is 22); the rules at `taken` do not count.
std::optional<std::size_t> rule_index(const FamilyChain& chain, const Json& rule, TableId table,
                                      Family family, const std::vector<std::size_t>& taken = {}) {
  const std::string wanted = rule_save_text(rule, table, family);
  for (std::size_t i = 0; i < chain.rules.size(); ++i) {
    if (std::find(taken.begin(), taken.end(), i) != taken.end()) continue;
    const Json& candidate = chain.rules[i];
    if (candidate == rule || rule_save_text(candidate, table, family) == wanted) return i;
  }
  return std::nullopt;
}

void flush(FamilyTable& table, const std::string& name) {
  if (name.empty()) {
    for (FamilyChain& chain : table.chains) chain.rules.clear();
  } else {
    existing_chain(table, name).rules.clear();
  }
}

void delete_chain(FamilyTable& table, const std::string& name) {
  const auto remove = [&table](const std::string& victim) {
    FamilyChain& chain = existing_chain(table, victim);
    if (chain.builtin) fail("Invalid argument. Run `dmesg' for more information");
    if (references(table, victim) != 0) fail("Too many links");
    if (!chain.rules.empty()) fail("Directory not empty");
    std::erase_if(table.chains, [&victim](const FamilyChain& c) { return c.name == victim; });
  };
  if (!name.empty()) {
    remove(name);
    return;
  }
  // -X alone: every user chain; the whole command fails as one.
  std::vector<std::string> names;
  for (const FamilyChain& chain : table.chains) {
    if (!chain.builtin) names.push_back(chain.name);
  }
  for (const std::string& victim : names) {
    FamilyChain& chain = existing_chain(table, victim);
    if (!chain.rules.empty()) fail("Directory not empty");
    // References from the chains about to go do not count.
    std::size_t from_builtin = 0;
    for (const FamilyChain& c : table.chains) {
      if (!c.builtin) continue;
      for (const Json& rule : c.rules) {
        const std::string* jump = jump_of(rule);
        from_builtin += static_cast<std::size_t>(jump != nullptr && *jump == victim);
      }
    }
    if (from_builtin != 0) fail("Too many links");
  }
  std::erase_if(table.chains, [](const FamilyChain& c) { return !c.builtin; });
}

void rename_chain(FamilyTable& table, const std::string& from, const std::string& to) {
  FamilyChain& chain = existing_chain(table, from);
  if (table.chain(to) != nullptr) fail("File exists");
  if (chain.builtin) fail("Invalid argument. Run `dmesg' for more information");
  chain.name = to;
  for (FamilyChain& c : table.chains) {
    for (Json& rule : c.rules) {
      for (const char* key : {"jump", "goto"}) {
        if (rule.contains(key) && rule[key] == from) rule[key] = to;
      }
    }
  }
}

void set_policy(FamilyTable& table, const Command& command) {
  FamilyChain* chain = table.chain(command.chain);
  if (chain == nullptr || !chain->builtin) fail("Bad built-in chain name");
  if (command.policy != "ACCEPT" && command.policy != "DROP") {
    fail("Bad policy name. Run `dmesg' for more information");
  }
  if (command.policy == "DROP" && command.table == TableId::kNat) {
    fail(
        "\nThe \"nat\" table is not intended for filtering, the use of DROP is therefore "
        "inhibited.\n\n",
        2);
  }
  chain->policy = command.policy == "ACCEPT" ? Policy::kAccept : Policy::kDrop;
}

}  // namespace

std::string error_text(Family family, const CommandError& error) {
  const std::string program(program_name(family));
  if (error.status == 1) return program + ": " + error.message + ".\n";
  return program + " v1.8.9 (verdictd): " + error.message + "\nTry `" + program + " -h' or '" +
         program + " --help' for more information.\n";
}

void apply_command(FamilyTables& tables, const Command& command) {
  // Every case checks all it needs before it changes anything, so a failed
  // command leaves the table as it was without a copy (a restore of N rules
  // would copy it N times).
  FamilyTable& table = tables.table(command.table);
  switch (command.operation) {
    case Operation::kAppend: {
      FamilyChain& chain = existing_chain(table, command.chain);
      check_jumps(table, command);
      chain.rules.insert(chain.rules.end(), command.rules.begin(), command.rules.end());
      break;
    }
    case Operation::kInsert: {
      FamilyChain& chain = existing_chain(table, command.chain);
      check_jumps(table, command);
      const std::size_t at = command.rule_number.value_or(1) - 1;
      if (at > chain.rules.size()) fail("Index of insertion too big");
      chain.rules.insert(chain.rules.begin() + static_cast<std::ptrdiff_t>(at),
                         command.rules.begin(), command.rules.end());
      break;
    }
    case Operation::kReplace: {
      FamilyChain& chain = existing_chain(table, command.chain);
      check_jumps(table, command);
      const std::size_t at = *command.rule_number - 1;
      if (at >= chain.rules.size()) fail("Index of replacement too big");
      if (command.rules.size() != 1) {
        fail("-R works only with one source and destination address", 2);
      }
      chain.rules[at] = command.rules.front();
      break;
    }
    case Operation::kDelete: {
      FamilyChain& chain = existing_chain(table, command.chain);
      if (command.rule_number) {
        const std::size_t at = *command.rule_number - 1;
        if (at >= chain.rules.size()) fail("Index of deletion too big");
        chain.rules.erase(chain.rules.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      }
      // Each address of -s a,b is one rule, each deleted once: found first.
      std::vector<std::size_t> found;
      for (const Json& rule : command.rules) {
        const auto at = rule_index(chain, rule, command.table, tables.family, found);
        if (!at) no_such_rule(rule);
        found.push_back(*at);
      }
      std::sort(found.begin(), found.end(), std::greater<>());
      for (const std::size_t at : found) {
        chain.rules.erase(chain.rules.begin() + static_cast<std::ptrdiff_t>(at));
      }
      break;
    }
    case Operation::kCheck: {
      FamilyChain& chain = existing_chain(table, command.chain);
      for (const Json& rule : command.rules) {
        if (!rule_index(chain, rule, command.table, tables.family)) no_such_rule(rule);
      }
      return;
    }
    case Operation::kFlush:
      flush(table, command.chain);
      return;
    case Operation::kZero:
      if (!command.chain.empty()) {
        const FamilyChain& chain = existing_chain(table, command.chain);
        if (command.rule_number && *command.rule_number > chain.rules.size()) {
          fail("Index of deletion too big");
        }
      }
      return;  // counters are the daemon's
    case Operation::kNewChain:
      if (table.chain(command.chain) != nullptr) fail("Chain already exists");
      if (find_target(command.chain) != nullptr) fail("Chain already exists");
      table.chains.push_back({command.chain, false, Policy::kAccept, {}});
      break;
    case Operation::kDeleteChain:
      delete_chain(table, command.chain);
      break;
    case Operation::kRenameChain:
      rename_chain(table, command.chain, command.new_name);
      break;
    case Operation::kPolicy:
      set_policy(table, command);
      break;
    case Operation::kList:
    case Operation::kListRules:
      if (!command.chain.empty()) existing_chain(table, command.chain);
      return;
    case Operation::kVersion:
      return;
  }
}

}  // namespace verdictd
