// The control socket's side of iptables-verdictd and its -save and -restore
// forms: an iptables command line or an iptables-restore input carried out
// on one family's view of the ruleset in force, with iptables' output and
// exit status. A change comes back as the whole next ruleset document; the
// daemon swaps it in as one new generation (state of unchanged rules kept),
// one caller at a time.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ruleset/rule_state.hpp"

namespace verdictd {

struct IptablesOutcome {
  // {"ok": true, "status": N, "stdout": TEXT, "stderr": TEXT}
  nlohmann::ordered_json response;
  std::optional<std::string> next_document;  // the ruleset to swap in, when changed
};

// Request {"family": 4|6, "arguments": [WORDS after the program name]}.
// `document` is the text of the ruleset in force.
IptablesOutcome run_iptables(const RulesetInForce& in_force, const std::string& document,
                             const nlohmann::ordered_json& request);

// Request {"family": 4|6, "text": INPUT, "noflush": bool, "test": bool}.
IptablesOutcome run_iptables_restore(const RulesetInForce& in_force, const std::string& document,
                                     const nlohmann::ordered_json& request);

// Request {"family": 4|6, "table": NAME (optional), "counters": bool}: the
// iptables-save text.
nlohmann::ordered_json run_iptables_save(const RulesetInForce& in_force,
                                         const nlohmann::ordered_json& request);

}  // namespace verdictd
