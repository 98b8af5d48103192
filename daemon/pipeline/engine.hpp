// The chain walk of one table at one hook (the kernel's ipt_do_table): jump,
// goto, RETURN and policies, counting as the kernel counts. The hook's
// stages around it are in hook_pipeline.hpp.
#pragma once

#include "extension/eval_state.hpp"
#include "packet/packet.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

enum class Verdict : std::uint8_t { kAccept, kDrop };

// Runs one table's built-in chain for state.hook; returns kAccept when the
// chain accepted or fell through to an ACCEPT policy.
Verdict evaluate_table(const Table& table, const PacketView& packet, EvalState& state);

}  // namespace verdictd
