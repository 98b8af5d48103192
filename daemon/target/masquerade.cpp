// -j MASQUERADE: SNAT to the address the out interface sends from to the
// packet's destination, found when the connection starts (xt_MASQUERADE,
// nf_nat_masquerade). POSTROUTING only; without an address the packet is
// dropped.
#include <array>

#include "conntrack/flow.hpp"
#include "target/nat_range.hpp"

namespace verdictd {

namespace {

class MasqueradeTarget final : public Target {
 public:
  explicit MasqueradeTarget(const NatRange& ports) : ports_(ports) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    NatContext* nat = nat_context(state);
    if (nat == nullptr) return TargetAction::kAccept;
    const auto address = nat->masquerade_address(state.out_ifindex, packet.destination);
    if (!address) return TargetAction::kDrop;
    NatRange range = ports_;
    range.has_addresses = true;
    range.min_address = *address;
    range.max_address = *address;
    range.masquerade_ifindex = state.out_ifindex;
    return bind_connection(*nat, state, natmanip::kSource, range);
  }

  // "masq ports: 1024-2000 random random-fully"
  [[nodiscard]] std::string list_extra() const override {
    return nat_ports_list_text("masq ports:", ports_);
  }

 private:
  NatRange ports_;  // the ports and flags; the address is found per connection
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& context) {
  return std::make_unique<MasqueradeTarget>(nat_range_from(options, context));
}

const std::array<OptionSpec, 3> kOptions = {
    nat_ports_option(), nat_flag_option("random", "--random", "pick the port at random"),
    nat_flag_option("random_fully", "--random-fully", "pick every port at random")};

const TargetRegistrar kRegistrar(
    {.name = "MASQUERADE",
     .summary = "maps the source of a new connection to the out interface's address",
     .options = kOptions,
     .tables = kNatTable,
     .hooks = hook_bit(Hook::kPostrouting),
     .needs = kNeedsTracking,
     .build = build});

}  // namespace

}  // namespace verdictd
