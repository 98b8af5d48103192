// A packet's trace record (pipeline/trace_json.hpp) as text for a person, as
// `verdictctl simulate` and `verdictctl trace` print it: like
// xtables-monitor --trace, one line per rule the packet met, but naming the
// rule's place in the ruleset file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace verdictd {

// Several lines, each ending in a newline: the hook, interfaces and packet;
// one indented line per step (table, chain, rule number, comment,
// FILE:LINE:COL, action -> outcome, and the fields it changed as
// `mark 0x0 -> 0x1`); the verdict.
std::string trace_text(const nlohmann::ordered_json& record);

}  // namespace verdictd
