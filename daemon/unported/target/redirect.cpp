// -j REDIRECT: DNAT to this host, keeping the port or mapping it to
// --to-ports (xt_REDIRECT, nf_nat_redirect). Locally generated packets go to
// the loopback address, others to the primary address of the interface they
// came in on; without one the packet is dropped.
#include "conntrack/flow.hpp"
#include "extension/values.hpp"
#include "target/nat_range.hpp"

namespace verdictd {

namespace {

IpAddress loopback(Family family) {
  IpAddress address;
  address.family = family;
  if (family == Family::kIPv4) {
    address.bytes[0] = 127;
    address.bytes[3] = 1;
  } else {
    address.bytes[15] = 1;
  }
  return address;
}

class RedirectTarget final : public Target {
 public:
  explicit RedirectTarget(const NatRange& ports) : ports_(ports) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    NatContext* nat = nat_context(state);
    if (nat == nullptr) return TargetAction::kAccept;
    const auto address = state.hook == Hook::kOutput
                             ? std::optional<IpAddress>(loopback(packet.family))
                             : nat->redirect_address(state.in_ifindex, packet.destination);
    if (!address) return TargetAction::kDrop;
    NatRange range = ports_;
    range.has_addresses = true;
    range.min_address = *address;
    range.max_address = *address;
    return bind_connection(*nat, state, natmanip::kDestination, range);
  }

  [[nodiscard]] std::string_view name() const override { return "REDIRECT"; }
  // "redir ports 8080-8090 random"
  [[nodiscard]] std::string list_extra() const override {
    return nat_ports_list_text("redir ports", ports_);
  }
  [[nodiscard]] std::string save() const override { return nat_ports_save_text(name(), ports_); }
  [[nodiscard]] HookMask allowed_hooks() const override {
    return hook_bit(Hook::kPrerouting) | hook_bit(Hook::kOutput);
  }
  [[nodiscard]] bool needs_conntrack() const override { return true; }
  [[nodiscard]] bool allowed_in(TableId table) const override { return table == TableId::kNat; }

 private:
  NatRange ports_;  // the ports and flag; the address is found per connection
};

constexpr std::string_view kWhat =
    R"("REDIRECT" or {"REDIRECT": {"to_ports": PORT or "PORT-PORT", "random": true}})";

std::unique_ptr<Target> make_redirect(const TargetArgs& args) {
  NatRange ports;
  if (args.options.is_null()) return std::make_unique<RedirectTarget>(ports);
  expect_object_keys(args.options, {"to_ports", "random"}, kWhat);
  if (args.options.contains("to_ports")) {
    parse_nat_ports(args.options, "to_ports", args.rule_match, ports);
  }
  ports.random = parse_nat_flag(args.options, "random");
  return std::make_unique<RedirectTarget>(ports);
}

const TargetRegistrar kRegistrar("REDIRECT", make_redirect);

}  // namespace

}  // namespace verdictd
