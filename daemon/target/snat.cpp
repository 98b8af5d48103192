// -j SNAT: binds the source of the connection's first packet to an address
// range and optionally ports (xt_nat), in POSTROUTING and INPUT. Terminal:
// the nat table ends for the packet once its connection is bound.
#include <array>

#include "conntrack/flow.hpp"
#include "target/nat_range.hpp"

namespace verdictd {

namespace {

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& context) {
  return std::make_unique<NatRangeTarget>(natmanip::kSource, nat_range_from(options, context));
}

const std::array<OptionSpec, 4> kOptions = {
    nat_range_option("to_source", "--to-source", "the addresses and ports to map the source to"),
    nat_flag_option("random", "--random", "pick the port at random"),
    nat_flag_option("random_fully", "--random-fully", "pick every port at random"),
    nat_flag_option("persistent", "--persistent", "the same address for a source every time")};

const TargetRegistrar kRegistrar({.name = "SNAT",
                                  .summary = "maps the source of a new connection",
                                  .options = kOptions,
                                  .tables = kNatTable,
                                  .hooks = hook_bit(Hook::kPostrouting) | hook_bit(Hook::kInput),
                                  .needs = kNeedsTracking,
                                  .build = build});

}  // namespace

}  // namespace verdictd
