// -j TOS: changes the IPv4 TOS byte or the IPv6 traffic class, all eight
// bits, as xt_DSCP.c's tos_tg and tos_tg6 (revision 1): clear the mask's
// bits, then XOR the value. libxt_TOS turns each option into that value and
// mask, and saves every form as --set-tos VALUE/MASK.
#include <array>

#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"
#include "match/tos_value.hpp"
#include "target/packet_rewrite.hpp"

namespace verdictd {

namespace {

class TosTarget final : public Target {
 public:
  TosTarget(std::uint8_t value, std::uint8_t mask) : value_(value), mask_(mask) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    if (!packet.has_network) return TargetAction::kContinue;
    const auto changed = static_cast<std::uint8_t>((packet.tos & ~mask_) ^ value_);
    if (changed == packet.tos) return TargetAction::kContinue;
    return rewrite_packet(state, [&](std::vector<std::uint8_t>& bytes) {
      write_dsfield(bytes, packet.family, changed);
    });
  }

  // As `iptables -L -n` prints it.
  [[nodiscard]] std::string list_extra() const override {
    return "TOS set " + hex_byte(value_) + "/" + hex_byte(mask_);
  }

  [[nodiscard]] std::string save() const override {
    return "-j TOS --set-tos " + hex_byte(value_) + "/" + hex_byte(mask_);
  }

 private:
  std::uint8_t value_;
  std::uint8_t mask_;
};

std::uint8_t byte_of(std::uint32_t v, const char* key) {
  if (v > 0xff) {
    throw FieldError("expected a value of 8 bits (0-0xff), got " + hex(v), "/" + std::string(key));
  }
  return static_cast<std::uint8_t>(v);
}

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  if (const OptionValue* set = options.find("set_tos")) {
    // A number without a mask sets the whole byte; a name, the six bits
    // above ECN (libxt_TOS's XTTYPE_TOSMASK).
    const auto& given = std::get<ValueMask>(set->value);
    return std::make_unique<TosTarget>(byte_of(given.value, "set_tos"),
                                       byte_of(given.mask, "set_tos"));
  }
  const auto bits = [&](const char* key) {
    return byte_of(options.get<ValueMask>(key).value, key);
  };
  if (options.has("and_tos")) {
    return std::make_unique<TosTarget>(0, static_cast<std::uint8_t>(~bits("and_tos")));
  }
  if (options.has("or_tos")) return std::make_unique<TosTarget>(bits("or_tos"), bits("or_tos"));
  return std::make_unique<TosTarget>(bits("xor_tos"), 0);
}

const std::array<OptionSpec, 4> kOptions = {{
    {.key = "set_tos",
     .flag = "--set-tos",
     .type = &tos_value_type(),
     .doc = "clear the mask's bits and XOR the value: \"0x10/0x3f\"; a number without a mask "
            "sets the whole byte, a name (\"Minimize-Delay\") the six bits above ECN"},
    {.key = "and_tos",
     .flag = "--and-tos",
     .type = &value_types::bits32(),
     .doc = "AND the TOS byte with these 8 bits"},
    {.key = "or_tos",
     .flag = "--or-tos",
     .type = &value_types::bits32(),
     .doc = "OR these 8 bits into the TOS byte"},
    {.key = "xor_tos",
     .flag = "--xor-tos",
     .type = &value_types::bits32(),
     .doc = "XOR these 8 bits into the TOS byte"},
}};
constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kExactlyOne, "set_tos and_tos or_tos xor_tos"}}};

const TargetRegistrar kRegistrar({.name = "TOS",
                                  .summary = "changes the IPv4 TOS byte or the IPv6 traffic class",
                                  .options = kOptions,
                                  .constraints = kConstraints,
                                  .tables = kMangleTable,
                                  .build = build});

}  // namespace

}  // namespace verdictd
