// -j DSCP: sets the six DSCP bits of the IPv4 TOS byte or the IPv6 traffic
// class and keeps the two ECN bits, as xt_DSCP.c's dscp_tg and dscp_tg6.
// --set-dscp-class names a class (libxt_DSCP's dscp_helper); iptables keeps,
// lists and saves only the number it stands for.
#include <array>

#include "extension/target.hpp"
#include "extension/values.hpp"
#include "target/packet_rewrite.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kEcnBits = 0x03;
constexpr unsigned kDscpShift = 2;

// The classes of RFC 2474 (CS), 2597 (AF) and 3246 (EF), with their values.
struct DscpClass {
  std::string_view name;
  std::uint8_t dscp;
};
constexpr std::array<DscpClass, 22> kClasses = {{
    {"CS0", 0x00},  {"CS1", 0x08},  {"CS2", 0x10},  {"CS3", 0x18},  {"CS4", 0x20},  {"CS5", 0x28},
    {"CS6", 0x30},  {"CS7", 0x38},  {"BE", 0x00},   {"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
    {"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16}, {"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
    {"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26}, {"EF", 0x2e},
}};
constexpr std::array<std::string_view, kClasses.size()> kClassNames = [] {
  std::array<std::string_view, kClasses.size()> names{};
  for (std::size_t i = 0; i < kClasses.size(); ++i) names[i] = kClasses[i].name;
  return names;
}();
const ChoiceType kClassType("DSCP class", kClassNames);

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
  return std::make_unique<DscpTarget>(kClasses[options.get<std::uint64_t>("set_dscp_class")].dscp);
}

const std::array<OptionSpec, 2> kOptions = {{
    {.key = "set_dscp",
     .flag = "--set-dscp",
     .type = &value_types::number(0x3f),
     .doc = "the DSCP value, 0-63"},
    {.key = "set_dscp_class",
     .flag = "--set-dscp-class",
     .type = &kClassType,
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
