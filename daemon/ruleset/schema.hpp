// What the extension descriptions say about the ruleset format, for people
// and tools: the JSON Schema (`verdictctl schema`, installed as
// ruleset.schema.json) and the reference of every key (`verdictctl
// reference`, installed as verdictd.ruleset(5)). Both are generated from the
// registered descriptions; tests keep the committed copies equal to them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace verdictd {

nlohmann::ordered_json ruleset_schema();
// The man page, in roff.
std::string ruleset_reference();

}  // namespace verdictd
