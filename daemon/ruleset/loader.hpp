// Turns ruleset JSON into a validated Ruleset, or refuses it whole with a
// RulesetError that points at the offending value.
#pragma once

#include <memory>
#include <string>

#include "ruleset/error.hpp"
#include "ruleset/json_document.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

// `file` names the source in error messages.
std::shared_ptr<Ruleset> load_ruleset_text(const std::string& text, const std::string& file);
std::shared_ptr<Ruleset> load_ruleset_file(const std::string& path);
// The same for a document already read, whose text() is what loaded.
std::shared_ptr<Ruleset> load_ruleset_document(const JsonDocument& document);

// Gives `next` the counters of the rules and policies it shares with `previous`
// (same table, chain and rule identity; repeated identical rules pair in order).
void carry_counters(const Ruleset& previous, Ruleset& next);

}  // namespace verdictd
