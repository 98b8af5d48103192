// An extension described as data, as iptables' xt_option_entry tables
// describe a module's options: one description per iptables module (-m tcp
// owns sport, dport, tcp_flags and syn) or target (-j MARK). From it come the
// loader's parsing and its positioned errors (extension/parse_options.cpp),
// the iptables-save text (generic, per option), the JSON Schema and the
// ruleset reference (extension/describe.cpp), and the option grammar an
// iptables importer reads (find_option_by_flag). The extension's own code is
// what the description cannot say: how it evaluates, and how `iptables -L`
// shows it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "extension/value_type.hpp"
#include "packet/hooks.hpp"

namespace verdictd {

class Match;
class Target;
struct OptionValue;

// A JSON key of a rule's "match" object, or a member of an object-valued
// option ("connlimit": {"above": 2}).
struct OptionSpec {
  std::string_view key{};
  // iptables' long option ("--dport"); empty for a member that has none of
  // its own (its value picks the flag, see `save`).
  std::string_view flag{};
  // Other spellings iptables accepts for it, space-separated ("--destination-port").
  std::string_view aliases{};
  // Null for an object-valued option: its value is an object of `members`.
  const ValueType* type = nullptr;
  // iptables takes `! --flag value`; the JSON key is then written "!key".
  bool negatable = false;
  bool mandatory = false;
  // The flag and each alias stand for one value of the option's ChoiceType,
  // in its order, and take no argument: --connlimit-saddr is "source",
  // --connlimit-daddr "destination" (the importer reads it).
  bool flag_picks_choice = false;
  std::span<const OptionSpec> members{};
  std::string_view doc{};
  // For an object-valued option whose members depend on each other: a
  // value of it, in JSON (the reference shows it; the tests build it).
  std::string_view example{};
  // The iptables-save text when it is not ` [!] FLAG VALUE` (a member whose
  // value picks the flag: "by": "source" is --connlimit-saddr).
  std::string (*save)(const OptionValue& value) = nullptr;
};

// Options that exclude or require each other, by key, space-separated.
struct Constraint {
  enum class Kind : std::uint8_t {
    kAtMostOne,   // "above upto": not both
    kExactlyOne,  // one of them must be given
    kAtLeastOne,  // one or more of them must be given ("ecn_tcp_ece ecn_ip_ect")
  };
  Kind kind;
  std::string_view keys;
};

// What an extension needs of the packet path when a rule uses it.
enum Needs : std::uint8_t {
  kNeedsNothing = 0,
  kNeedsTracking = 1U << 0,  // reads or changes the packet's connection
};

// The parsed options of one extension in one rule, in description order.
struct OptionValue {
  const OptionSpec* spec = nullptr;
  bool negated = false;
  Value value;                       // monostate for an object-valued option
  std::vector<OptionValue> members;  // its members, for an object-valued option
};

class OptionValues {
 public:
  OptionValues() = default;
  explicit OptionValues(std::vector<OptionValue> values) : values_(std::move(values)) {}

  [[nodiscard]] const OptionValue* find(std::string_view key) const;
  [[nodiscard]] bool has(std::string_view key) const { return find(key) != nullptr; }
  [[nodiscard]] bool negated(std::string_view key) const;
  // The parsed value of a given option (throws std::logic_error when absent
  // or of another type: the description and the code disagree).
  template <class T>
  [[nodiscard]] const T& get(std::string_view key) const {
    return std::get<T>(at(key).value);
  }
  template <class T>
  [[nodiscard]] T get_or(std::string_view key, T fallback) const {
    const OptionValue* v = find(key);
    return v == nullptr ? fallback : std::get<T>(v->value);
  }
  // The members of an object-valued option.
  [[nodiscard]] OptionValues members(std::string_view key) const {
    return OptionValues(at(key).members);
  }
  [[nodiscard]] const std::vector<OptionValue>& all() const { return values_; }
  [[nodiscard]] bool empty() const { return values_.empty(); }

 private:
  [[nodiscard]] const OptionValue& at(std::string_view key) const;
  std::vector<OptionValue> values_;
};

// What an extension sees of the rule while it is built.
struct BuildContext {
  TableId table = TableId::kFilter;
  std::optional<std::uint8_t> protocol;  // the rule's non-negated -p, if any
  // The rule's "match" object, for a target that needs certain matches in
  // its rule (TCPMSS: a SYN test); null while matches are built.
  const Json* match_object = nullptr;
};

struct MatchSpec {
  // The iptables module ("tcp", "conntrack"); empty for the fields of the
  // rule itself (-p -s -d -i -o -f), which iptables keeps in ipt_entry.
  std::string_view name{};
  std::string_view summary{};
  std::span<const OptionSpec> options{};
  std::span<const Constraint> constraints = {};
  // The rule's -p must be one of these (empty: any). A module that -p loads
  // by itself (tcp, udp, icmp) is `implied`: iptables-save still prints its -m.
  std::span<const std::uint8_t> protocols = {};
  bool implied = false;
  HookMask hooks = kEveryHook;
  std::uint8_t needs = kNeedsNothing;
  std::unique_ptr<Match> (*build)(const OptionValues& options,
                                  const BuildContext& context) = nullptr;
};

struct TargetSpec {
  std::string_view name{};  // "MARK", as -j takes it
  // The kernel's target when `name` is an alias of it, as libxtables'
  // real_name (NOTRACK is CT): `iptables -L` lists the rule under it.
  std::string_view real_name{};
  std::string_view summary{};
  // Members of the target's options object ({"MARK": {"set_mark": 1}});
  // empty when the target takes none (then it is written as a bare name).
  std::span<const OptionSpec> options{};
  std::span<const Constraint> constraints = {};
  // Tables that accept it (empty: all), as xt_target.table.
  std::span<const TableId> tables = {};
  HookMask hooks = kEveryHook;
  std::uint8_t needs = kNeedsNothing;
  std::unique_ptr<Target> (*build)(const OptionValues& options,
                                   const BuildContext& context) = nullptr;
};

// Registration, through a static registrar in each extension's file.
void register_match(const MatchSpec& spec);
void register_target(const TargetSpec& spec);
// Each holds its description, at a fixed address for the program's life.
class MatchRegistrar {
 public:
  explicit MatchRegistrar(const MatchSpec& spec) : spec_(spec) { register_match(spec_); }
  MatchRegistrar(const MatchRegistrar&) = delete;
  MatchRegistrar& operator=(const MatchRegistrar&) = delete;
  MatchRegistrar(MatchRegistrar&&) = delete;
  MatchRegistrar& operator=(MatchRegistrar&&) = delete;
  ~MatchRegistrar() = default;

 private:
  MatchSpec spec_;
};
class TargetRegistrar {
 public:
  explicit TargetRegistrar(const TargetSpec& spec) : spec_(spec) { register_target(spec_); }
  TargetRegistrar(const TargetRegistrar&) = delete;
  TargetRegistrar& operator=(const TargetRegistrar&) = delete;
  TargetRegistrar(TargetRegistrar&&) = delete;
  TargetRegistrar& operator=(TargetRegistrar&&) = delete;
  ~TargetRegistrar() = default;

 private:
  TargetSpec spec_;
};

// Every registered description, sorted by name (the header's fields first).
std::vector<const MatchSpec*> all_matches();
std::vector<const TargetSpec*> all_targets();
const TargetSpec* find_target(std::string_view name);
// The matches that own `key` (several for sport/dport: tcp, udp, sctp, multiport).
std::vector<const MatchSpec*> matches_with_key(std::string_view key);
// The iptables grammar: the module or target named `module`, and its option
// spelled `flag` (long form or an alias); null when there is none.
const OptionSpec* find_option_by_flag(std::string_view module, std::string_view flag);
// An option's spellings: its flag (when it has one), then its aliases.
std::vector<std::string_view> option_spellings(const OptionSpec& option);
const MatchSpec* find_match_module(std::string_view name);

// The iptables-save text of parsed options: ` [!] --flag value` for each, in
// description order, members in place of their object.
std::string save_options(const OptionValues& options);

}  // namespace verdictd
