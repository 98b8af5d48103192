// -j NETMAP: maps a whole network onto another, one to one: the prefix bits
// of "to" replace those of the address, the host bits stay (xt_NETMAP). The
// destination in PREROUTING and OUTPUT, the source in POSTROUTING and INPUT.
#include <algorithm>
#include <array>

#include "conntrack/flow.hpp"
#include "target/nat_range.hpp"

namespace verdictd {

namespace {

class NetmapTarget final : public Target {
 public:
  explicit NetmapTarget(const IpPrefix& to) : to_(to) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    if (packet.family != to_.address.family) return TargetAction::kContinue;
    NatContext* nat = nat_context(state);
    if (nat == nullptr) return TargetAction::kAccept;
    const bool destination = state.hook == Hook::kPrerouting || state.hook == Hook::kOutput;
    NatRange range;
    range.has_addresses = true;
    range.min_address = mapped(destination ? packet.destination : packet.source);
    range.max_address = range.min_address;
    range.netmap_prefix_length = to_.length;
    return bind_connection(*nat, state, destination ? natmanip::kDestination : natmanip::kSource,
                           range);
  }

  // The prefix restricts the rule to its family.
  [[nodiscard]] std::optional<Family> family() const override { return to_.address.family; }
  // iptables prints the length even of a single address: "to:10.9.0.5/32".
  [[nodiscard]] std::string list_extra() const override { return "to:" + to_text(); }
  [[nodiscard]] std::string save() const override { return "-j NETMAP --to " + to_text(); }

 private:
  [[nodiscard]] std::string to_text() const {
    return to_.address.to_string() + "/" + std::to_string(to_.length);
  }

  // The prefix bits of `to` and the host bits of `address`; `to` is stored
  // masked, so its host bits are zero.
  [[nodiscard]] IpAddress mapped(const IpAddress& address) const {
    IpAddress result = to_.address;
    for (std::size_t i = 0; i < address.size(); ++i) {
      const int prefix_bits = std::clamp(to_.length - static_cast<int>(i) * 8, 0, 8);
      const auto host_mask = static_cast<std::uint8_t>(0xffU >> prefix_bits);
      result.bytes[i] |= address.bytes[i] & host_mask;
    }
    return result;
  }

  IpPrefix to_;
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<NetmapTarget>(options.get<IpPrefix>("to"));
}

const std::array<OptionSpec, 1> kOptions = {{{.key = "to",
                                              .flag = "--to",
                                              .type = &value_types::prefix(),
                                              .mandatory = true,
                                              .doc = "the network to map onto"}}};

const TargetRegistrar kRegistrar({.name = "NETMAP",
                                  .summary = "maps a network onto another, one to one",
                                  .options = kOptions,
                                  .tables = kNatTable,
                                  .hooks = hook_bit(Hook::kPrerouting) | hook_bit(Hook::kOutput) |
                                           hook_bit(Hook::kPostrouting) | hook_bit(Hook::kInput),
                                  .needs = kNeedsTracking,
                                  .build = build});

}  // namespace

}  // namespace verdictd
