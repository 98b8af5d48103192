// Turns ruleset JSON into a validated Ruleset, or refuses it whole with a
// RulesetError that points at the offending value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "extension/error.hpp"
#include "ruleset/json_document.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

// The default of the most bytes a ruleset file may have (the daemon's
// "ruleset_max_bytes"): room for about a million rules. It is checked before
// the file is read, as loading takes about fifteen times its size in memory.
inline constexpr std::uint32_t kDefaultRulesetMaxBytes = std::uint32_t{128} << 20;
inline constexpr std::uint32_t kMaxRulesetMaxBytes = 0xffffffff;

// `file` names the source in error messages. Time and memory are linear in
// the size of the text.
std::shared_ptr<Ruleset> load_ruleset_text(const std::string& text, const std::string& file);
// Refuses a file larger than `max_bytes` before reading it.
std::shared_ptr<Ruleset> load_ruleset_file(const std::string& path, std::size_t max_bytes);
// The same in two steps: the file read (refused when larger than `max_bytes`),
// then the document loaded; its text() is what loaded.
JsonDocument read_ruleset_document(const std::string& path, std::size_t max_bytes);
std::shared_ptr<Ruleset> load_ruleset_document(const JsonDocument& document);

}  // namespace verdictd
