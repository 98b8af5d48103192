// Evaluation: one hook's tables in kernel priority order, each a chain walk
// with jump, goto, RETURN and policies, counting as the kernel counts.
#pragma once

#include "packet/packet.hpp"
#include "ruleset/eval_state.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

enum class Verdict : std::uint8_t { kAccept, kDrop };

// Connection tracking, run where the kernel's conntrack runs in the hook:
// after raw at PREROUTING and OUTPUT, before the first table elsewhere.
class TrackingStep {
 public:
  virtual void run(const PacketView& packet, EvalState& state) = 0;

 protected:
  TrackingStep() = default;
  TrackingStep(const TrackingStep&) = default;
  TrackingStep& operator=(const TrackingStep&) = default;
  TrackingStep(TrackingStep&&) = default;
  TrackingStep& operator=(TrackingStep&&) = default;
  ~TrackingStep() = default;
};

// Runs every table registered at state.hook. A DROP ends the packet; ACCEPT
// ends the current table and the next one runs. `state.mark` carries the
// packet's mark in and out.
Verdict evaluate_hook(const Ruleset& ruleset, const PacketView& packet, EvalState& state,
                      TrackingStep* tracking = nullptr);

// Runs one table's built-in chain for state.hook; returns kAccept when the
// chain accepted or fell through to an ACCEPT policy.
Verdict evaluate_table(const Table& table, const PacketView& packet, EvalState& state);

}  // namespace verdictd
