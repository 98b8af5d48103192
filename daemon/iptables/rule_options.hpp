// The rule part of an iptables command line (-p -s -d -i -o -f, -m and its
// options, -j and its options, -g, -c) turned into verdictd's JSON rules by
// the extensions' descriptions: the same grammar the loader parses, read
// from the other side. Everything iptables accepts for what verdictd
// supports is taken; everything else is an ImportError at its column.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "extension/description.hpp"
#include "iptables/arguments.hpp"
#include "packet/hooks.hpp"

namespace verdictd {

// Packet and byte counters, as `-c` and iptables-restore's "[p:b]" give them.
struct RuleCounters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

class RuleOptions {
 public:
  explicit RuleOptions(TableId table) : table_(table) {}

  // Takes the rule option at args[i] with its arguments, `negated` when a
  // "!" stood before it. Returns the index after them, or `i` when args[i]
  // is no rule option.
  std::size_t take(const Arguments& args, std::size_t i, bool negated);

  // The JSON rules the options make: one, or one per address when -s or -d
  // list several (as iptables adds them). Checks them with the loader's
  // parsers; an error names the column of the option at fault.
  [[nodiscard]] std::vector<nlohmann::ordered_json> rules() const;
  [[nodiscard]] const std::optional<RuleCounters>& counters() const { return counters_; }
  [[nodiscard]] bool empty() const { return !any_; }

 private:
  struct Written {
    std::string key;  // "!key" when negated
    nlohmann::ordered_json value;
    std::size_t column;
  };
  // Where a flag leads: an option, or a member of an object-valued option.
  struct Found {
    const OptionSpec* option = nullptr;
    const OptionSpec* member = nullptr;
    std::size_t spelling = 0;  // 0 for the flag, 1 + i for its i-th alias
  };
  struct Module {
    const MatchSpec* spec;
    std::size_t column;  // of its -m, or of its first option when -p implied it
    std::vector<Written> options;
  };

  std::size_t take_header(const Arguments& args, std::size_t i, bool negated,
                          const OptionSpec& option);
  std::size_t take_extension_option(const Arguments& args, std::size_t i, bool negated);
  [[nodiscard]] std::optional<Found> find_in_scope(const Argument& flag);
  std::size_t take_found(const Arguments& args, std::size_t i, bool negated, const Found& found,
                         std::vector<Written>& into);
  void load_module(const Argument& name);
  [[nodiscard]] const MatchSpec* implied_module() const;
  [[nodiscard]] nlohmann::ordered_json match_object(const std::string& source,
                                                    const std::string& destination) const;
  [[nodiscard]] std::size_t column_of(const std::string& pointer_suffix) const;

  TableId table_;
  bool any_ = false;
  std::vector<Written> header_;
  std::vector<std::string> sources_;
  std::vector<std::string> destinations_;
  std::size_t source_column_ = 0;
  std::size_t destination_column_ = 0;
  bool source_negated_ = false;
  bool destination_negated_ = false;
  std::vector<Module> modules_;
  std::optional<std::string> comment_;
  std::size_t comment_column_ = 0;
  // -j NAME (a target, or a chain to jump to) or -g CHAIN.
  const TargetSpec* target_ = nullptr;
  std::size_t target_loaded_after_ = 0;  // how many modules -m loaded before -j
  std::string verdict_key_;              // "target", "jump" or "goto"
  std::string verdict_name_;
  std::size_t verdict_column_ = 0;
  std::vector<Written> target_options_;
  std::optional<RuleCounters> counters_;
};

// The module iptables loads for a -p protocol when an option it does not
// know follows (tcp; icmp6 for ipv6-icmp), or null.
const MatchSpec* protocol_module(std::uint8_t protocol);

}  // namespace verdictd
