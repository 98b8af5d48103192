// -j REDIRECT: DNAT to this host, keeping the port or mapping it to
// --to-ports (xt_REDIRECT, nf_nat_redirect). Locally generated packets go to
// the loopback address, others to the primary address of the interface they
// came in on; without one the packet is dropped.
#include <array>

#include "conntrack/flow.hpp"
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

  // "redir ports 8080-8090 random"
  [[nodiscard]] std::string list_extra() const override {
    return nat_ports_list_text("redir ports", ports_);
  }

 private:
  NatRange ports_;  // the ports and flag; the address is found per connection
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& context) {
  return std::make_unique<RedirectTarget>(nat_range_from(options, context));
}

const std::array<OptionSpec, 2> kOptions = {
    nat_ports_option(), nat_flag_option("random", "--random", "pick the port at random")};

const TargetRegistrar kRegistrar(
    {.name = "REDIRECT",
     .summary = "maps the destination of a new connection to this host",
     .options = kOptions,
     .tables = kNatTable,
     .hooks = hook_bit(Hook::kPrerouting) | hook_bit(Hook::kOutput),
     .needs = kNeedsTracking,
     .build = build});

}  // namespace

}  // namespace verdictd
