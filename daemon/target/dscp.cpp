// -j DSCP: sets the six DSCP bits of the IPv4 TOS byte or the IPv6 traffic
// class and keeps the two ECN bits, as xt_DSCP.c's dscp_tg and dscp_tg6.
// --set-dscp-class names a class (extension/dscp_classes.hpp).
#include <array>

#include "extension/dscp_classes.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"
#include "target/packet_rewrite.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kEcnBits = 0x03;
constexpr unsigned kDscpShift = 2;

class DscpTarget final : public Target {
 public:
  explicit DscpTarget(std::uint8_t dscp) : dscp_(dscp) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    if (!packet.has_network || packet.tos >> kDscpShift == dscp_) return TargetAction::kContinue;
    const auto changed = static_cast<std::uint8_t>((packet.tos & kEcnBits) | dscp_ << kDscpShift);
    return rewrite_packet(state, [&](std::vector<std::uint8_t>& bytes) {
      write_dsfield(bytes, packet.family, changed);
    });
  }

  [[nodiscard]] std::string list_extra() const override { return "DSCP set " + hex_byte(dscp_); }

  [[nodiscard]] std::string save() const override {
    return "-j DSCP --set-dscp " + hex_byte(dscp_);
  }

 private:
  std::uint8_t dscp_;
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  if (options.has("set_dscp")) {
    return std::make_unique<DscpTarget>(
        static_cast<std::uint8_t>(options.get<std::uint64_t>("set_dscp")));
  }
  return std::make_unique<DscpTarget>(dscp_of_class(options.get<std::uint64_t>("set_dscp_class")));
}

const std::array<OptionSpec, 2> kOptions = {{
    {.key = "set_dscp",
     .flag = "--set-dscp",
     .type = &value_types::number(0x3f),
     .doc = "the DSCP value, 0-63"},
    {.key = "set_dscp_class",
     .flag = "--set-dscp-class",
     .type = &dscp_class_type(),
     .doc = "the DSCP of a class: CS0-CS7, BE, AF11-AF43, EF"},
}};
constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kExactlyOne, "set_dscp set_dscp_class"}}};

const TargetRegistrar kRegistrar({.name = "DSCP",
                                  .summary = "sets the DSCP bits of the IPv4 TOS byte or the IPv6 "
                                             "traffic class",
                                  .options = kOptions,
                                  .constraints = kConstraints,
                                  .tables = kMangleTable,
                                  .build = build});

}  // namespace

}  // namespace verdictd
