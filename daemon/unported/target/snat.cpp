// -j SNAT: binds the source of the connection's first packet to an address
// range and optionally ports (xt_nat), in POSTROUTING and INPUT. Terminal:
// the nat table ends for the packet once its connection is bound.
#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/values.hpp"
#include "target/nat_range.hpp"

namespace verdictd {

namespace {

constexpr NatRangeTargetKind kSnat{"SNAT", "--to-source", natmanip::kSource,
                                   hook_bit(Hook::kPostrouting) | hook_bit(Hook::kInput)};

constexpr std::string_view kWhat =
    R"({"to_source": "ADDR[-ADDR][:PORT[-PORT]]"} with optional "random", "random_fully" and "persistent")";

std::unique_ptr<Target> make_snat(const TargetArgs& args) {
  const auto needs = [] {
    return FieldError("SNAT needs its source: {\"SNAT\": " + std::string(kWhat) + "}");
  };
  if (args.options.is_null()) throw needs();
  expect_object_keys(args.options, {"to_source", "random", "random_fully", "persistent"}, kWhat);
  if (!args.options.contains("to_source")) throw needs();
  NatRange range = parse_nat_range(args.options, "to_source", args.rule_match);
  range.random = parse_nat_flag(args.options, "random");
  range.random_fully = parse_nat_flag(args.options, "random_fully");
  range.persistent = parse_nat_flag(args.options, "persistent");
  return std::make_unique<NatRangeTarget>(kSnat, range);
}

const TargetRegistrar kRegistrar("SNAT", make_snat);

}  // namespace

}  // namespace verdictd
