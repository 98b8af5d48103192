// -j DNAT: binds the destination of the connection's first packet to an
// address range and optionally ports (xt_nat), in PREROUTING and OUTPUT.
// Terminal: the nat table ends for the packet once its connection is bound.
#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/values.hpp"
#include "target/nat_range.hpp"

namespace verdictd {

namespace {

constexpr NatRangeTargetKind kDnat{"DNAT", "--to-destination", natmanip::kDestination,
                                   hook_bit(Hook::kPrerouting) | hook_bit(Hook::kOutput)};

constexpr std::string_view kWhat =
    R"({"to_destination": "ADDR[-ADDR][:PORT[-PORT]]"} with optional "random" and "persistent")";

std::unique_ptr<Target> make_dnat(const TargetArgs& args) {
  const auto needs = [] {
    return FieldError("DNAT needs its destination: {\"DNAT\": " + std::string(kWhat) + "}");
  };
  if (args.options.is_null()) throw needs();
  expect_object_keys(args.options, {"to_destination", "random", "persistent"}, kWhat);
  if (!args.options.contains("to_destination")) throw needs();
  NatRange range = parse_nat_range(args.options, "to_destination", args.rule_match);
  range.random = parse_nat_flag(args.options, "random");
  range.persistent = parse_nat_flag(args.options, "persistent");
  return std::make_unique<NatRangeTarget>(kDnat, range);
}

const TargetRegistrar kRegistrar("DNAT", make_dnat);

}  // namespace

}  // namespace verdictd
