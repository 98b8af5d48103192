#include "pipeline/engine.hpp"

#include <stdexcept>
#include <vector>

#include "extension/packet_trace.hpp"

namespace verdictd {

namespace {

struct ReturnPoint {
  int chain;
  std::size_t next_rule;
};

Verdict apply_policy(const Chain& builtin, const ChainState& builtin_state, Family family,
                     std::uint64_t length) {
  builtin_state.policy(family).add(length);
  return builtin.policy(family).verdict == Policy::kAccept ? Verdict::kAccept : Verdict::kDrop;
}

TraceOutcome outcome_of(TargetAction action) {
  switch (action) {
    case TargetAction::kAccept:
      return TraceOutcome::kAccept;
    case TargetAction::kDrop:
      return TraceOutcome::kDrop;
    case TargetAction::kReturn:
      return TraceOutcome::kReturn;
    case TargetAction::kContinue:
      break;
  }
  return TraceOutcome::kContinue;
}

// Where a traced step happened.
struct StepPlace {
  TraceStepKind kind;
  TableId table;
  int chain;
  std::uint32_t rule;  // 1-based for kRule, 0 otherwise
};

// One step of a traced packet, with the packet as the step left it.
void trace_step(EvalState& state, const PacketView& packet, const StepPlace& place,
                TraceOutcome outcome) {
  state.trace->steps.push_back({.kind = place.kind,
                                .table = place.table,
                                .chain = place.chain,
                                .rule = place.rule,
                                .outcome = outcome,
                                .after = PacketFacts::of(packet, state.mark)});
}

// Each match is handed the state the ruleset keeps for it.
bool rule_matches(const Rule& rule, const RuleState& rule_state, const PacketView& packet,
                  EvalState& state) {
  if (rule.family && (!packet.has_network || *rule.family != packet.family)) return false;
  for (std::size_t i = 0; i < rule.matches.size(); ++i) {
    state.extension_state = rule_state.slot(i);
    if (!rule.matches[i]->matches(packet, state)) return false;
  }
  return true;
}

}  // namespace

Verdict evaluate_table(const Table& table, const PacketView& packet, EvalState& state) {
  const int builtin = table.builtin[static_cast<std::size_t>(state.hook)];
  if (builtin < 0 || (table.families & family_bit(packet.family)) == 0) return Verdict::kAccept;
  const Chain& builtin_chain = table.chains[static_cast<std::size_t>(builtin)];
  // A caller that forgot the state is a bug; said plainly rather than a null dereference.
  if (state.ruleset_state == nullptr) {
    throw std::logic_error("evaluated without the ruleset's state");
  }
  const std::vector<ChainState>& chain_states = state.ruleset_state->table(table.id);
  // The kernel counts the packet's length, not the bytes copied to us, as it
  // stands at each rule: a target may have rewritten it (`packet` shows the
  // rewrite, extension/working_packet.hpp), TCPMSS to a longer one.
  const auto length = [&packet]() -> std::uint64_t {
    return packet.has_network ? packet.length : packet.bytes.size();
  };
  // Loops are refused at load, so the depth is bounded by the number of chains;
  // one vector per thread keeps the packet path free of allocations.
  thread_local std::vector<ReturnPoint> returns;
  returns.clear();

  int chain_index = builtin;
  std::size_t rule_index = 0;
  while (true) {
    const Chain& chain = table.chains[static_cast<std::size_t>(chain_index)];
    if (rule_index < chain.rules.size()) {
      RuleState& rule_state =
          *chain_states[static_cast<std::size_t>(chain_index)].rules[rule_index];
      const Rule& rule = chain.rules[rule_index++];
      if (!rule_matches(rule, rule_state, packet, state)) {
        if (state.hotdrop) {
          state.dropped_by = {.kind = DropCause::Kind::kHotdrop, .table = table.id};
          return Verdict::kDrop;
        }
        continue;
      }
      rule_state.counters.add(length());
      // As ipt_do_table's trace_packet, a rule is traced if the packet was
      // before its target ran: a TRACE rule's own packet starts after it.
      const bool traced = state.trace != nullptr && state.trace->recording();
      const StepPlace place{.kind = TraceStepKind::kRule,
                            .table = table.id,
                            .chain = chain_index,
                            .rule = static_cast<std::uint32_t>(rule_index)};
      if (rule.jump_chain >= 0) {
        if (traced) {
          trace_step(state, packet, place,
                     rule.is_goto ? TraceOutcome::kGoto : TraceOutcome::kJump);
        }
        if (!rule.is_goto) returns.push_back({chain_index, rule_index});
        chain_index = rule.jump_chain;
        rule_index = 0;
        continue;
      }
      if (!rule.target) {
        if (traced) trace_step(state, packet, place, TraceOutcome::kContinue);
        continue;
      }
      state.extension_state = rule_state.slot(rule.matches.size());
      state.rule = {.table = table.id,
                    .chain = chain.name,
                    .number = static_cast<std::uint32_t>(rule_index),
                    .comment = rule.comment};
      const TargetAction action = rule.target->apply(packet, state);
      if (traced) trace_step(state, packet, place, outcome_of(action));
      if (action == TargetAction::kAccept) return Verdict::kAccept;
      if (action == TargetAction::kDrop) {
        state.dropped_by = {.kind = DropCause::Kind::kRule,
                            .table = table.id,
                            .chain = chain_index,
                            .rule = place.rule};
        return Verdict::kDrop;
      }
      if (action == TargetAction::kContinue) continue;
    } else if (!chain.builtin && state.trace != nullptr && state.trace->recording()) {
      // The end of a user chain (nf_tables' and trace_packet's "return").
      trace_step(state, packet, {TraceStepKind::kReturn, table.id, chain_index, 0},
                 TraceOutcome::kReturn);
    }
    // End of chain or RETURN: back to the caller, or the built-in chain's policy.
    if (returns.empty()) {
      const Verdict verdict = apply_policy(
          builtin_chain, chain_states[static_cast<std::size_t>(builtin)], packet.family, length());
      if (state.trace != nullptr && state.trace->recording() && !table.is_default(packet.family)) {
        trace_step(state, packet, {TraceStepKind::kPolicy, table.id, builtin, 0},
                   verdict == Verdict::kAccept ? TraceOutcome::kAccept : TraceOutcome::kDrop);
      }
      if (verdict == Verdict::kDrop) {
        state.dropped_by = {.kind = DropCause::Kind::kPolicy, .table = table.id, .chain = builtin};
      }
      return verdict;
    }
    chain_index = returns.back().chain;
    rule_index = returns.back().next_rule;
    returns.pop_back();
  }
}

}  // namespace verdictd
