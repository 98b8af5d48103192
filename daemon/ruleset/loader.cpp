#include "ruleset/loader.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "extension/build_extensions.hpp"
#include "extension/values.hpp"
#include "ruleset/json_document.hpp"
#include "ruleset/set_loader.hpp"
#include "text/json_position.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kMaxChainName = 28;  // XT_EXTENSION_MAXNAMELEN less the NUL
// The one member of a table object that is not a chain.
constexpr const char* kFamiliesKey = "families";

std::string json_quoted(std::string_view s) { return Json(std::string(s)).dump(); }

bool is_builtin_chain(TableId table, std::string_view name) {
  auto hook = hook_from_name(name);
  return hook && (table_hooks(table) & hook_bit(*hook)) != 0;
}

// Builds one Ruleset from parsed JSON; every error carries the pointer of
// the value at fault and is located in the text by the caller.
class Builder {
 public:
  struct Failure {
    std::string pointer;
    std::string message;
  };

  explicit Builder(Ruleset& out) : ruleset_(out) {}

  void build(const Json& root) {
    if (!root.is_object()) fail("", "expected an object with \"tables\", got " + root.dump());
    check_keys(root, "", {"tables", "families", "sets", "comment", "$schema"});
    if (root.contains("families")) ruleset_.families = families_of(root["families"], "/families");
    if (root.contains("sets")) {
      try {
        ruleset_.sets = load_sets(root["sets"], ruleset_.source);
      } catch (const FieldError& e) {
        fail("/sets" + e.pointer_suffix, e.what());
      }
    }
    const SetsInScope sets_in_rules(ruleset_.sets);
    if (!root.contains("tables")) fail("", "expected a \"tables\" member");
    const Json& tables = root["tables"];
    if (!tables.is_object()) {
      fail("/tables", "expected an object of tables, got " + tables.dump());
    }
    for (TableId id : kAllTables) {
      ruleset_.table(id).families = ruleset_.families;
      add_builtin_chains(id);
    }
    for (const auto& [name, chains] : tables.items()) {
      const std::string pointer = "/tables/" + json_pointer_token(name);
      auto id = table_from_name(name);
      if (!id) {
        fail(pointer, "unknown table " + json_quoted(name) +
                          "; expected filter, nat, mangle, raw or security");
      }
      if (!chains.is_object()) fail(pointer, "expected an object of chains, got " + chains.dump());
      build_table(*id, chains, pointer);
    }
  }

  [[noreturn]] static void fail(std::string pointer, std::string message) {
    throw Failure{std::move(pointer), std::move(message)};
  }

 private:
  static void check_keys(const Json& object, const std::string& pointer,
                         std::initializer_list<std::string_view> allowed) {
    try {
      expect_object_keys(object, allowed, "an object");
    } catch (const FieldError& e) {
      fail(pointer + e.pointer_suffix, e.what());
    }
  }

  // "ipv4", "ipv6", or a list of them.
  static FamilyMask families_of(const Json& value, const std::string& pointer) {
    const auto one = [&pointer](const Json& name) -> FamilyMask {
      for (Family f : kAllFamilies) {
        if (name == family_name(f)) return family_bit(f);
      }
      fail(pointer, "expected \"ipv4\", \"ipv6\" or a list of them, got " + name.dump());
    };
    if (!value.is_array()) return one(value);
    if (value.empty()) fail(pointer, "expected at least one of \"ipv4\" and \"ipv6\", got []");
    FamilyMask mask = 0;
    for (const Json& name : value) mask |= one(name);
    return mask;
  }

  static std::string families_text(FamilyMask families) {
    std::string text;
    for (Family f : kAllFamilies) {
      if ((families & family_bit(f)) == 0) continue;
      text += (text.empty() ? "" : ", ") + std::string(family_name(f));
    }
    return text;
  }

  void add_builtin_chains(TableId id) {
    Table& table = ruleset_.table(id);
    table.id = id;
    for (Hook h : kAllHooks) {
      if ((table_hooks(id) & hook_bit(h)) == 0) continue;
      table.builtin[static_cast<std::size_t>(h)] = static_cast<int>(table.chains.size());
      Chain chain;
      chain.name = std::string(hook_name(h));
      chain.builtin = true;
      chain.reached_from = hook_bit(h);
      table.chains.push_back(std::move(chain));
    }
  }

  void build_table(TableId id, const Json& chains, const std::string& pointer) {
    Table& table = ruleset_.table(id);
    if (chains.contains(kFamiliesKey)) {
      const std::string families_pointer = pointer + "/" + kFamiliesKey;
      table.families = families_of(chains[kFamiliesKey], families_pointer);
      if ((table.families & ~ruleset_.families) != 0) {
        fail(families_pointer, "the ruleset covers only " + families_text(ruleset_.families) +
                                   "; a table cannot cover more");
      }
    }
    chain_indexes_.clear();
    for (std::size_t i = 0; i < table.chains.size(); ++i) {
      chain_indexes_.emplace(table.chains[i].name, static_cast<int>(i));
    }
    // Declare user chains first so jumps may point forward.
    for (const auto& [name, body] : chains.items()) {
      if (name == kFamiliesKey) continue;
      const std::string chain_pointer = pointer + "/" + json_pointer_token(name);
      if (!body.is_object()) {
        fail(chain_pointer, "expected an object with \"rules\", got " + body.dump());
      }
      if (is_builtin_chain(id, name)) continue;
      check_chain_name(name, chain_pointer);
      chain_indexes_.emplace(name, static_cast<int>(table.chains.size()));
      Chain chain;
      chain.name = name;
      table.chains.push_back(std::move(chain));
    }
    for (const auto& [name, body] : chains.items()) {
      if (name == kFamiliesKey) continue;
      build_chain(table, chain_index(name), body, pointer + "/" + json_pointer_token(name));
    }
    check_loops_and_hooks(table);
  }

  static void check_chain_name(const std::string& name, const std::string& pointer) {
    if (name.empty() || name.size() > kMaxChainName) {
      fail(pointer, "chain name " + json_quoted(name) + " must be 1 to 28 characters");
    }
    if (name[0] == '-' || name[0] == '!' || name.find_first_of(" \t\n") != std::string::npos) {
      fail(pointer, "chain name " + json_quoted(name) +
                        " may not start with '-' or '!' or contain white space");
    }
    if (find_target(name) != nullptr) {
      fail(pointer, "chain name " + json_quoted(name) + " is the name of a target");
    }
  }

  // The index of the chain `name` in the table being built, or -1.
  [[nodiscard]] int chain_index(const std::string& name) const {
    const auto found = chain_indexes_.find(name);
    return found == chain_indexes_.end() ? -1 : found->second;
  }

  void build_chain(Table& table, int index, const Json& body, const std::string& pointer) {
    Chain& chain = table.chains[static_cast<std::size_t>(index)];
    if (chain.builtin) {
      check_keys(body, pointer, {"policy", "rules", "comment"});
    } else {
      if (body.contains("policy")) {
        fail(pointer + "/policy",
             "only built-in chains have a policy; " + json_quoted(chain.name) + " is a user chain");
      }
      check_keys(body, pointer, {"rules", "comment", kFamiliesKey});
      // A user chain of one family, as iptables or ip6tables alone has it.
      if (body.contains(kFamiliesKey)) {
        chain.families = families_of(body[kFamiliesKey], pointer + "/" + kFamiliesKey);
      }
    }
    if (body.contains("policy")) build_policy(table, chain, body["policy"], pointer + "/policy");
    if (!body.contains("rules")) return;
    const Json& rules = body["rules"];
    if (!rules.is_array()) {
      fail(pointer + "/rules", "expected an array of rules, got " + rules.dump());
    }
    std::vector<RuleSource>& rule_sources = sources(table, chain);
    chain.rules.reserve(rules.size());
    rule_sources.reserve(rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::string rule_pointer = pointer + "/rules/" + std::to_string(i);
      match_keys_.clear();
      chain.rules.push_back(build_rule(table, rules[i], rule_pointer));
      rule_sources.push_back(RuleSource{rule_pointer, std::move(match_keys_)});
    }
  }

  // "ACCEPT" or "DROP" for every family the table covers, or per family:
  // {"ipv4": "DROP", "ipv6": "ACCEPT"} (a family left out keeps ACCEPT).
  static void build_policy(const Table& table, Chain& chain, const Json& value,
                           const std::string& pointer) {
    const auto verdict = [&table](const Json& name, const std::string& at) {
      if (name == "ACCEPT") return Policy::kAccept;
      if (name != "DROP") fail(at, "expected \"ACCEPT\" or \"DROP\", got " + name.dump());
      if (table.id == TableId::kNat) fail(at, "the nat table does not allow a DROP policy");
      return Policy::kDrop;
    };
    if (!value.is_object()) {
      const Policy policy = verdict(value, pointer);
      for (ChainPolicy& p : chain.policies) p.verdict = policy;
      return;
    }
    for (const auto& item : value.items()) {
      const std::string& name = item.key();
      const Json& family_value = item.value();
      const std::string at = pointer + "/" + json_pointer_token(name);
      const auto family = std::find_if(kAllFamilies.begin(), kAllFamilies.end(),
                                       [&name](Family f) { return family_name(f) == name; });
      if (family == kAllFamilies.end()) {
        fail(at,
             "expected \"ipv4\" or \"ipv6\" as the family of a policy, got " + json_quoted(name));
      }
      if ((table.families & family_bit(*family)) == 0) {
        fail(at, "table " + std::string(table_name(table.id)) + " covers only " +
                     families_text(table.families));
      }
      chain.policy(*family).verdict = verdict(family_value, at);
    }
  }

  Rule build_rule(const Table& table, const Json& body, const std::string& pointer) {
    if (!body.is_object()) fail(pointer, "expected a rule object, got " + body.dump());
    check_keys(body, pointer, {"comment", "family", "match", "target", "jump", "goto"});
    Rule rule;
    rule.identity = body.dump();
    const int actions = static_cast<int>(body.contains("target")) +
                        static_cast<int>(body.contains("jump")) +
                        static_cast<int>(body.contains("goto"));
    if (actions > 1) fail(pointer, "a rule takes at most one of \"target\", \"jump\" and \"goto\"");
    if (body.contains("comment")) {
      const Json& comment = body["comment"];
      if (!comment.is_string() || comment.get<std::string>().size() > 255) {
        fail(pointer + "/comment",
             "expected a string of at most 255 characters, got " + comment.dump());
      }
      rule.comment = comment.get<std::string>();
      rule.has_comment = true;
    }
    static const Json kNoMatch = Json::object();
    const Json& match = body.contains("match") ? body["match"] : kNoMatch;
    if (!match.is_object()) {
      fail(pointer + "/match", "expected an object of matches, got " + match.dump());
    }
    if (body.contains("family")) {
      const FamilyMask family = families_of(body["family"], pointer + "/family");
      if (family == kBothFamilies) {
        fail(pointer + "/family", "expected \"ipv4\" or \"ipv6\", got " + body["family"].dump());
      }
      restrict_family(rule, table,
                      family == family_bit(Family::kIPv4) ? Family::kIPv4 : Family::kIPv6,
                      pointer + "/family");
    }
    std::vector<BuiltMatch> built;
    try {
      built = build_matches(match, table.id);
    } catch (const FieldError& e) {
      fail(pointer + "/match" + e.pointer_suffix, e.what());
    }
    for (BuiltMatch& b : built) {
      const std::string key_pointer = pointer + "/match/" + json_pointer_token(b.key);
      restrict_family(rule, table, b.match->family(), key_pointer);
      rule.matches.push_back(std::move(b.match));
      match_keys_.push_back(std::move(b.key));
    }
    if (body.contains("target")) {
      const std::string target_pointer = pointer + "/target";
      try {
        rule.target = build_target(body["target"], match, table.id);
      } catch (const FieldError& e) {
        fail(target_pointer + e.pointer_suffix, e.what());
      }
      restrict_family(rule, table, rule.target->family(), target_pointer);
    }
    add_set_identities(rule);
    for (const char* kind : {"jump", "goto"}) {
      if (!body.contains(kind)) continue;
      const std::string jump_pointer = pointer + "/" + kind;
      const Json& name = body[kind];
      if (!name.is_string()) fail(jump_pointer, "expected a chain name, got " + name.dump());
      const int target = chain_index(name.get<std::string>());
      if (target < 0) {
        fail(jump_pointer,
             "no chain named " + name.dump() + " in table " + std::string(table_name(table.id)));
      }
      if (table.chains[static_cast<std::size_t>(target)].builtin) {
        fail(jump_pointer, "cannot " + std::string(kind) + " to built-in chain " + name.dump());
      }
      rule.jump_chain = target;
      rule.is_goto = std::string_view(kind) == "goto";
    }
    return rule;
  }

  // A rule is carried across a reload with its state only while the sets
  // it names are (ruleset/rule_state.cpp binds them when it makes the state).
  void add_set_identities(Rule& rule) const {
    const auto add = [&](const StatefulExtension& extension) {
      const auto* user = dynamic_cast<const UsesSets*>(&extension);
      if (user == nullptr) return;
      for (const std::string& name : user->set_names()) {
        rule.identity +=
            "\nset " + name + " " +
            std::to_string(std::hash<std::string>{}(find_set(ruleset_.sets, name)->identity));
      }
    };
    for (const auto& match : rule.matches) add(*match);
    if (rule.target) add(*rule.target);
  }

  // A match or target that names an address of one family restricts the rule
  // to it; a rule for a family its table does not cover would never run.
  static void restrict_family(Rule& rule, const Table& table, std::optional<Family> family,
                              const std::string& pointer) {
    if (!family) return;
    if (rule.family && *rule.family != *family) {
      fail(pointer, "this rule already applies to IPv" +
                        std::to_string(static_cast<int>(*rule.family)) +
                        " only; a rule cannot mix IPv4 and IPv6");
    }
    if ((table.families & family_bit(*family)) == 0) {
      fail(pointer, "this rule applies to IPv" + std::to_string(static_cast<int>(*family)) +
                        " only, and table " + std::string(table_name(table.id)) + " covers only " +
                        families_text(table.families));
    }
    rule.family = family;
  }

  // Refuses loops, and gives each user chain the hooks that reach it, then
  // checks every match and target against the hooks its chain runs at.
  void check_loops_and_hooks(Table& table) {
    // Hooks flow along jumps: in this order each chain has them all before
    // it passes them on.
    for (const std::size_t c : jump_order(table)) {
      for (const Rule& rule : table.chains[c].rules) {
        if (rule.jump_chain >= 0) {
          table.chains[static_cast<std::size_t>(rule.jump_chain)].reached_from |=
              table.chains[c].reached_from;
        }
      }
    }
    for (Chain& chain : table.chains) {
      check_hooks(table, chain);
      for (Family f : kAllFamilies) {
        if ((table.families & family_bit(f)) == 0) continue;
        const auto applies = [f](const Rule& rule) { return !rule.family || *rule.family == f; };
        const bool any_rule = std::any_of(chain.rules.begin(), chain.rules.end(), applies);
        if (chain.builtin && (any_rule || chain.policy(f).verdict == Policy::kDrop)) {
          ruleset_.used_hooks[f] |= chain.reached_from;
        }
        const bool reads = std::any_of(chain.rules.begin(), chain.rules.end(), [&](const Rule& r) {
          return applies(r) && r.reads_connection();
        });
        if (chain.reached_from != 0 && reads) ruleset_.tracked_families |= family_bit(f);
        if (table.id == TableId::kNat && chain.builtin && any_rule) {
          ruleset_.uses_nat = true;
          // A binding translates the connection's packets both ways, at every
          // nat hook they cross, and lives in the flow table.
          ruleset_.tracked_families |= family_bit(f);
          ruleset_.used_hooks[f] |= table_hooks(TableId::kNat);
        }
      }
    }
  }

  // A chain on the path of the loop check, and the next of its rules to follow.
  struct PathStep {
    std::size_t chain;
    std::size_t next_rule;
  };

  // The chains in an order where each comes before every chain it jumps or
  // goes to; a jump back to a chain on the path fails, naming the path. A
  // depth-first search with a stack of its own, as a line of chains
  // jumping to the next is as deep as it is long.
  std::vector<std::size_t> jump_order(const Table& table) {
    enum class Mark : std::uint8_t { kNew, kOnPath, kDone };
    std::vector<Mark> marks(table.chains.size(), Mark::kNew);
    std::vector<std::size_t> finished;  // each chain after every chain it reaches
    finished.reserve(table.chains.size());
    std::vector<PathStep> path;
    for (std::size_t start = 0; start < table.chains.size(); ++start) {
      if (marks[start] != Mark::kNew) continue;
      marks[start] = Mark::kOnPath;
      path.push_back({start, 0});
      while (!path.empty()) {
        PathStep& step = path.back();
        const Chain& chain = table.chains[step.chain];
        if (step.next_rule == chain.rules.size()) {
          marks[step.chain] = Mark::kDone;
          finished.push_back(step.chain);
          path.pop_back();
          continue;
        }
        const std::size_t r = step.next_rule++;
        if (chain.rules[r].jump_chain < 0) continue;
        const auto next = static_cast<std::size_t>(chain.rules[r].jump_chain);
        if (marks[next] == Mark::kOnPath) fail_loop(table, path, r, next);
        if (marks[next] == Mark::kNew) {
          marks[next] = Mark::kOnPath;
          path.push_back({next, 0});
        }
      }
    }
    std::reverse(finished.begin(), finished.end());
    return finished;
  }

  // Rule `rule` of the last chain on `path` jumps back to `next`, on the path.
  // A long path is shown by its ends.
  [[noreturn]] void fail_loop(const Table& table, const std::vector<PathStep>& path,
                              std::size_t rule, std::size_t next) {
    constexpr std::size_t kEndNames = 5;
    std::string loop;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (path.size() > 2 * kEndNames && i >= kEndNames && i < path.size() - kEndNames) {
        if (i == kEndNames) {
          loop += "(" + std::to_string(path.size() - 2 * kEndNames) + " more) -> ";
        }
        continue;
      }
      loop += table.chains[path[i].chain].name + " -> ";
    }
    const Chain& chain = table.chains[path.back().chain];
    fail(sources(table, chain)[rule].pointer + (chain.rules[rule].is_goto ? "/goto" : "/jump"),
         "this makes a loop: " + loop + table.chains[next].name);
  }

  void check_hooks(const Table& table, const Chain& chain) {
    const std::vector<RuleSource>& rule_sources = sources(table, chain);
    for (std::size_t r = 0; r < chain.rules.size(); ++r) {
      const Rule& rule = chain.rules[r];
      const RuleSource& source = rule_sources[r];
      auto refuse = [&](const std::string& where, std::string_view what, HookMask allowed) {
        for (Hook h : kAllHooks) {
          if ((chain.reached_from & hook_bit(h)) != 0 && (allowed & hook_bit(h)) == 0) {
            std::string message =
                std::string(what) + " cannot be used in " + std::string(hook_name(h));
            if (!chain.builtin) {
              message += " (chain " + json_quoted(chain.name) + " is reached from " +
                         std::string(hook_name(h)) + " in table " +
                         std::string(table_name(table.id)) + ")";
            }
            fail(where, message);
          }
        }
      };
      for (std::size_t m = 0; m < rule.matches.size(); ++m) {
        const std::string& key = source.match_keys[m];
        refuse(source.pointer + "/match/" + json_pointer_token(key), key,
               rule.matches[m]->allowed_hooks());
      }
      if (rule.target) {
        refuse(source.pointer + "/target", rule.target->name(), rule.target->allowed_hooks());
      }
    }
  }

  // Where each rule was written, and its match keys as written: error
  // locations for the checks that run after the whole table is built.
  struct RuleSource {
    std::string pointer;
    std::vector<std::string> match_keys;
  };
  std::vector<RuleSource>& sources(const Table& table, const Chain& chain) {
    return rule_sources_[{table.id, chain.name}];
  }

  Ruleset& ruleset_;
  std::unordered_map<std::string, int> chain_indexes_;  // of the table being built
  std::map<std::pair<TableId, std::string>, std::vector<RuleSource>> rule_sources_;
  std::vector<std::string> match_keys_;  // of the rule being built, in evaluation order
};

// Where each chain and rule of a built ruleset is written: one scan of the
// text, down to /tables/TABLE/CHAIN/rules/N.
void locate_rules(Ruleset& ruleset, std::string_view text) {
  constexpr std::size_t kRuleDepth = 5;
  // The chains of the table last visited, by name: a table may have many.
  std::string table_visited;
  std::unordered_map<std::string_view, Chain*> chains;
  Chain* chain = nullptr;  // the chain of the path last visited
  visit_positions(text, kRuleDepth, [&](const std::vector<std::string>& path, TextPosition at) {
    if (path.size() < 3 || path[0] != "tables") return;
    if (path.size() == 3) {
      if (path[1] != table_visited) {
        table_visited = path[1];
        chains.clear();
        if (const auto id = table_from_name(path[1])) {
          for (Chain& c : ruleset.tables[static_cast<std::size_t>(*id)].chains) chains[c.name] = &c;
        }
      }
      const auto found = chains.find(path[2]);
      chain = found == chains.end() ? nullptr : found->second;
      if (chain != nullptr) chain->position = at;
      return;
    }
    if (chain == nullptr || path.size() != kRuleDepth || path[3] != "rules") return;
    const std::size_t index = std::stoul(path[4]);
    if (index < chain->rules.size()) chain->rules[index].position = at;
  });
}

}  // namespace

std::shared_ptr<Ruleset> load_ruleset_document(const JsonDocument& document) {
  auto ruleset = std::make_shared<Ruleset>();
  ruleset->source = document.file();
  try {
    Builder(*ruleset).build(document.root());
  } catch (const Builder::Failure& f) {
    throw document.error_at(f.pointer, f.message);
  }
  locate_rules(*ruleset, document.text());
  return ruleset;
}

std::shared_ptr<Ruleset> load_ruleset_text(const std::string& text, const std::string& file) {
  return load_ruleset_document(JsonDocument(text, file));
}

JsonDocument read_ruleset_document(const std::string& path, std::size_t max_bytes) {
  return JsonDocument::read(
      path,
      {max_bytes, "raise it with \"ruleset_max_bytes\" in verdictd.json or --ruleset-max-bytes"});
}

std::shared_ptr<Ruleset> load_ruleset_file(const std::string& path, std::size_t max_bytes) {
  return load_ruleset_document(read_ruleset_document(path, max_bytes));
}

}  // namespace verdictd
