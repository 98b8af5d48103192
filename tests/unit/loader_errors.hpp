// What loading a whole ruleset text says, for the tests of its errors.
#pragma once

#include <string>

#include "extension/error.hpp"
#include "ruleset/loader.hpp"

namespace verdictd::test {

// "r.json:LINE:COL: /pointer: message" of the RulesetError, or "loaded".
inline std::string load_error(const std::string& text) {
  try {
    load_ruleset_text(text, "r.json");
  } catch (const RulesetError& e) {
    return e.what();
  }
  return "loaded";
}

}  // namespace verdictd::test
