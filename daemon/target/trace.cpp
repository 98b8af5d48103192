// -j TRACE: the packet is followed through every rule that matches it from
// here on, at this hook and the later ones (xt_TRACE sets skb->nf_trace).
// The kernel logs the trace (nf_log, or nftables' trace events that
// `xtables-monitor --trace` reads); verdictd streams it to `verdictctl trace`.
// Only the raw table may use it, as xt_TRACE's table "raw".
#include <array>

#include "extension/packet_trace.hpp"
#include "extension/target.hpp"

namespace verdictd {

namespace {

class TraceTarget final : public Target {
 public:
  TargetAction apply(const PacketView& /*packet*/, EvalState& state) const override {
    if (state.trace != nullptr) state.trace->readers |= PacketTrace::kTraceRuleReader;
    return TargetAction::kContinue;
  }
};

std::unique_ptr<Target> build(const OptionValues& /*options*/, const BuildContext& /*context*/) {
  return std::make_unique<TraceTarget>();
}

constexpr std::array<TableId, 1> kRawOnly = {TableId::kRaw};

const TargetRegistrar kTrace({.name = "TRACE",
                              .summary = "follow the packet through the rules: verdictctl trace",
                              .tables = kRawOnly,
                              .build = build});

}  // namespace

}  // namespace verdictd
