// -j NOTRACK and -j CT --notrack: the packet is not tracked, and rules see it
// as UNTRACKED (xt_CT). Only the raw table, which runs before tracking, may
// use them; both let the packet go on to the next rule.
#include <array>

#include "conntrack/flow.hpp"
#include "extension/target.hpp"

namespace verdictd {

namespace {

class NotrackTarget final : public Target {
 public:
  // `alias`: written NOTRACK, which iptables keeps as such but lists as CT.
  explicit NotrackTarget(bool alias) : alias_(alias) {}

  // As the kernel, a packet that already has a connection keeps it.
  TargetAction apply(const PacketView& /*packet*/, EvalState& state) const override {
    PacketConntrack* ct = state.conntrack;
    if (ct != nullptr && !ct->has_flow) ct->notrack = true;
    return TargetAction::kContinue;
  }

  [[nodiscard]] std::string list_extra() const override {
    return alias_ ? "NOTRACK" : "CT notrack";
  }

 private:
  bool alias_;
};

template <bool kAlias>
std::unique_ptr<Target> build(const OptionValues& /*options*/, const BuildContext& /*context*/) {
  return std::make_unique<NotrackTarget>(kAlias);
}

constexpr std::array<TableId, 1> kRawOnly = {TableId::kRaw};

// Of CT's options only --notrack is supported.
const std::array<OptionSpec, 1> kCtOptions = {{{.key = "notrack",
                                                .flag = "--notrack",
                                                .type = &value_types::flag(),
                                                .mandatory = true,
                                                .doc = "the packet is not tracked"}}};

const TargetRegistrar kNotrack({.name = "NOTRACK",
                                .real_name = "CT",
                                .summary = "the packet is not tracked (CT --notrack)",
                                .tables = kRawOnly,
                                .needs = kNeedsTracking,
                                .build = build<true>});
const TargetRegistrar kCt({.name = "CT",
                           .summary = "the packet's tracking: only --notrack",
                           .options = kCtOptions,
                           .tables = kRawOnly,
                           .needs = kNeedsTracking,
                           .build = build<false>});

}  // namespace

}  // namespace verdictd
