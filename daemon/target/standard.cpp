// The verdicts ACCEPT and DROP, and RETURN: iptables' standard target.
#include <array>

#include "extension/target.hpp"

namespace verdictd {

namespace {

class StandardTarget final : public Target {
 public:
  explicit StandardTarget(TargetAction action) : action_(action) {}

  TargetAction apply(const PacketView& /*packet*/, EvalState& /*state*/) const override {
    return action_;
  }

 private:
  TargetAction action_;
};

template <TargetAction kAction>
std::unique_ptr<Target> build(const OptionValues& /*options*/, const BuildContext& /*context*/) {
  return std::make_unique<StandardTarget>(kAction);
}

// The nat table may not drop packets.
constexpr std::array<TableId, 4> kDropTables = {TableId::kRaw, TableId::kMangle, TableId::kFilter,
                                                TableId::kSecurity};

const TargetRegistrar kAccept({.name = "ACCEPT",
                               .summary = "the packet passes this table; the next one runs",
                               .build = build<TargetAction::kAccept>});
const TargetRegistrar kDrop({.name = "DROP",
                             .summary = "the packet is dropped",
                             .tables = kDropTables,
                             .build = build<TargetAction::kDrop>});
const TargetRegistrar kReturn(
    {.name = "RETURN",
     .summary = "back to the calling chain, or the built-in chain's policy",
     .build = build<TargetAction::kReturn>});

}  // namespace

}  // namespace verdictd
