// -j DNAT: binds the destination of the connection's first packet to an
// address range and optionally ports (xt_nat), in PREROUTING and OUTPUT.
// Terminal: the nat table ends for the packet once its connection is bound.
#include <array>

#include "conntrack/flow.hpp"
#include "target/nat_range.hpp"

namespace verdictd {

namespace {

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& context) {
  return std::make_unique<NatRangeTarget>(natmanip::kDestination, nat_range_from(options, context));
}

const std::array<OptionSpec, 3> kOptions = {
    nat_range_option("to_destination", "--to-destination",
                     "the addresses and ports to map the destination to"),
    nat_flag_option("random", "--random", "pick the port at random"),
    nat_flag_option("persistent", "--persistent", "the same address for a source every time")};

const TargetRegistrar kRegistrar({.name = "DNAT",
                                  .summary = "maps the destination of a new connection",
                                  .options = kOptions,
                                  .tables = kNatTable,
                                  .hooks = hook_bit(Hook::kPrerouting) | hook_bit(Hook::kOutput),
                                  .needs = kNeedsTracking,
                                  .build = build});

}  // namespace

}  // namespace verdictd
