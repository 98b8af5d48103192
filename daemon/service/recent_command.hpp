// `verdictctl recent list|add|del|flush NAME [ADDRESS]`: the recent lists of
// the ruleset in force read and written as /proc/net/xt_recent/NAME is.
#pragma once

#include <nlohmann/json.hpp>

#include "ruleset/rule_state.hpp"

namespace verdictd {

// {"command": "recent", "action": ..., "name": ..., "address": ...}; the
// answer's "text" is the list's lines for "list".
nlohmann::ordered_json recent_command(const RulesetState& state,
                                      const nlohmann::ordered_json& request);

}  // namespace verdictd
