// Builds a rule's matches and target from their descriptions: finds the
// module that owns each key of the "match" object, parses every option with
// its value type, checks negation, mandatory and exclusive options and the
// rule's protocol, and hands the parsed options to the extension's build.
// Errors are FieldErrors whose pointer suffix leads from the object given to
// the value at fault.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "extension/match.hpp"
#include "extension/target.hpp"

namespace verdictd {

struct BuiltMatch {
  std::unique_ptr<Match> match;
  std::string key;  // the first key of the match object that it was built from, as written
};

// The rule's matches, the fields of the rule itself first (the kernel checks
// them before any extension), then each module in the order its first key
// was written.
std::vector<BuiltMatch> build_matches(const Json& match_object, TableId table);

// `value` is "NAME" or {"NAME": {options}}; errors point into `value`.
std::unique_ptr<Target> build_target(const Json& value, const Json& match_object, TableId table);

// The protocol number of a rule's non-negated "protocol" key, if any.
std::optional<std::uint8_t> rule_protocol(const Json& match_object);

}  // namespace verdictd
