// A packet's trace as JSON, naming each rule as its ruleset file has it.
#pragma once

#include <nlohmann/json.hpp>

#include "extension/packet_trace.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

// The trace as `verdictctl trace --json` prints it and `verdictctl trace`
// and `simulate` render it: the hook, the interfaces, the packet as it came,
// each step with its rule's table, chain, number, comment, file:line:column
// and action, the fields the step changed, and the verdict.
// A packet's fields as a trace shows them: family, protocol, addresses,
// ports, TCP flags, ICMP type and code, length, TTL, TOS and mark.
nlohmann::ordered_json packet_facts_json(const PacketFacts& facts);

// "FILE:LINE:COLUMN" of a place in the ruleset's file.
std::string ruleset_location(const Ruleset& ruleset, TextPosition position);

nlohmann::ordered_json trace_json(const PacketTrace& trace, const Ruleset& ruleset);

}  // namespace verdictd
