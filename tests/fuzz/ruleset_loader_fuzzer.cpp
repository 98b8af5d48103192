// The ruleset loader (daemon/ruleset/loader.hpp) on any bytes: it loads them
// or refuses them with a RulesetError, nothing else; a loaded ruleset is listed and saved as
// verdictctl does. Seeds: tests/rulesets (good and bad); dictionary: ruleset.dict.
#include <cstdint>
#include <memory>
#include <string>

#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(bytes), size);
  std::shared_ptr<verdictd::Ruleset> ruleset;
  try {
    ruleset = verdictd::load_ruleset_text(text, "fuzz.json");
  } catch (const verdictd::RulesetError&) {
    return 0;
  }
  const verdictd::RulesetState state(*ruleset);
  for (const verdictd::Family family : {verdictd::Family::kIPv4, verdictd::Family::kIPv6}) {
    verdictd::save_ruleset(*ruleset, family, &state);
  }
  for (const verdictd::TableId table : verdictd::kAllTables) {
    verdictd::list_table(*ruleset, state, {.table = table, .verbose = true, .line_numbers = true});
  }
  return 0;
}
