// The ruleset's "sets" object: each set's options and elements, inline or
// from the file it names (JSON, or ipset save text), as SetDeclarations.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "set/set_declaration.hpp"

namespace verdictd {

// `ruleset_file` locates relative file names. Throws FieldError (its
// pointer relative to the "sets" object) for the declarations, and
// RulesetError naming the set's file for a fault in it.
SetDeclarations load_sets(const nlohmann::ordered_json& sets, const std::string& ruleset_file);

}  // namespace verdictd
