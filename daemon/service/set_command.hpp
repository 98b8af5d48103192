// `verdictctl set list|add|del|flush|test|save NAME [ELEMENT]`: the live sets
// of the ruleset in force, changed at runtime (changes survive a reload while
// the set's declaration is unchanged; `save` writes the set back to its file,
// so they also survive a restart).
#pragma once

#include <nlohmann/json.hpp>

#include "ruleset/rule_state.hpp"

namespace verdictd {

// {"command": "set", "action": "add", "name": "blk", "element": "10.0.0.0/8
// timeout 60", "exist": false} -> {"ok": true, "text": ...}, or
// {"ok": false, "error": ...} (also for a test of an element not in the set,
// as `ipset test` fails then).
nlohmann::ordered_json set_command(const RulesetInForce& in_force,
                                   const nlohmann::ordered_json& request);

}  // namespace verdictd
