// -j MASQUERADE: SNAT to the address the out interface sends from to the
// packet's destination, found when the connection starts (xt_MASQUERADE,
// nf_nat_masquerade). POSTROUTING only; without an address the packet is
// dropped.
#include "conntrack/flow.hpp"
#include "extension/values.hpp"
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

  [[nodiscard]] std::string_view name() const override { return "MASQUERADE"; }
  // "masq ports: 1024-2000 random random-fully"
  [[nodiscard]] std::string list_extra() const override {
    return nat_ports_list_text("masq ports:", ports_);
  }
  [[nodiscard]] std::string save() const override { return nat_ports_save_text(name(), ports_); }
  [[nodiscard]] HookMask allowed_hooks() const override { return hook_bit(Hook::kPostrouting); }
  [[nodiscard]] bool needs_conntrack() const override { return true; }
  [[nodiscard]] bool allowed_in(TableId table) const override { return table == TableId::kNat; }

 private:
  NatRange ports_;  // the ports and flags; the address is found per connection
};

constexpr std::string_view kWhat =
    R"("MASQUERADE" or {"MASQUERADE": {"to_ports": PORT or "PORT-PORT", "random": true, "random_fully": true}})";

std::unique_ptr<Target> make_masquerade(const TargetArgs& args) {
  NatRange ports;
  if (args.options.is_null()) return std::make_unique<MasqueradeTarget>(ports);
  expect_object_keys(args.options, {"to_ports", "random", "random_fully"}, kWhat);
  if (args.options.contains("to_ports")) {
    parse_nat_ports(args.options, "to_ports", args.rule_match, ports);
  }
  ports.random = parse_nat_flag(args.options, "random");
  ports.random_fully = parse_nat_flag(args.options, "random_fully");
  return std::make_unique<MasqueradeTarget>(ports);
}

const TargetRegistrar kRegistrar("MASQUERADE", make_masquerade);

}  // namespace

}  // namespace verdictd
