// A packet's trace record (pipeline/trace_json.hpp) as text for a person, as
// `verdictctl simulate` and `verdictctl trace` print it, and the drops of
// `verdictctl drops` in the same words: like
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

// One line for a drop of `verdictctl drops` (service/drop_log.hpp): the time,
// hook, interfaces and packet, then what decided it ("by filter FORWARD rule
// 3 "comment" FILE:LINE:COL DROP", "by filter FORWARD policy ...").
std::string drop_text(const nlohmann::ordered_json& drop);

}  // namespace verdictd
