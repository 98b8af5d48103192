// The chain walk of one table at one hook (the kernel's ipt_do_table): jump,
// goto, RETURN and policies, counting as the kernel counts. The hook's
// stages around it are in hook_pipeline.hpp.
#pragma once

#include "extension/eval_state.hpp"
#include "packet/packet.hpp"
#include "ruleset/model.hpp"
#include "ruleset/rule_state.hpp"

namespace verdictd {

enum class Verdict : std::uint8_t { kAccept, kDrop };

// Runs one table's built-in chain for state.hook; returns kAccept when the
// chain accepted or fell through to an ACCEPT policy. `state.ruleset_state`
// must be the ruleset's state (ruleset/rule_state.hpp), where the rules count
// and their extensions keep what they keep.
Verdict evaluate_table(const Table& table, const PacketView& packet, EvalState& state);

}  // namespace verdictd
