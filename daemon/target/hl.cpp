// -j TTL (IPv4) and -j HL (IPv6): set, decrement or increment the TTL or the
// hop limit, as xt_HL.c's ttl_tg and hl_tg6, which share one module: a
// decrement stops at 0 and an increment at 255; the IPv4 header checksum is
// updated. Each restricts its rule to its family.
#include <algorithm>
#include <array>
#include <stdexcept>

#include "extension/error.hpp"
#include "extension/target.hpp"
#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"
#include "target/packet_rewrite.hpp"

namespace verdictd {

namespace {

enum class Mode : std::uint8_t { kSet, kDecrement, kIncrement };

// Where each family keeps the field, and how iptables names it.
struct FieldOf {
  Family family;
  std::string_view target;  // "TTL"
  std::string_view option;  // "ttl", as in --ttl-set
  std::size_t offset;       // in the network header
};
constexpr FieldOf kTtl{Family::kIPv4, "TTL", "ttl", 8};
constexpr FieldOf kHopLimit{Family::kIPv6, "HL", "hl", 7};

constexpr std::array<std::string_view, 3> kModeWords = {"set", "dec", "inc"};

class HopLimitTarget final : public Target {
 public:
  HopLimitTarget(const FieldOf& field, Mode mode, std::uint8_t amount)
      : field_(&field), mode_(mode), amount_(amount) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    // The rule is of the target's family (family()); a packet without a
    // whole header never reaches a target of a family-restricted rule.
    if (!packet.has_network) return TargetAction::kContinue;
    const int now = packet.ttl;
    int changed = amount_;
    if (mode_ == Mode::kDecrement) changed = std::max(now - amount_, 0);
    if (mode_ == Mode::kIncrement) changed = std::min(now + amount_, 0xff);
    // ttl_tg leaves an unchanged TTL alone; hl_tg6 writes it anyway, to the same bytes.
    if (changed == now) return TargetAction::kContinue;
    return rewrite_packet(state, [&](std::vector<std::uint8_t>& bytes) {
      const std::size_t at = field_->offset;
      if (field_->family == Family::kIPv4) {
        const std::uint16_t before = read16(bytes, at);
        bytes[at] = static_cast<std::uint8_t>(changed);
        write16(bytes, 10, checksum::update16(read16(bytes, 10), before, read16(bytes, at)));
      } else {
        bytes[at] = static_cast<std::uint8_t>(changed);
      }
    });
  }

  [[nodiscard]] std::optional<Family> family() const override { return field_->family; }

  // "TTL set to 64", "HL decrement by 1", as `iptables -L` prints them.
  [[nodiscard]] std::string list_extra() const override {
    static constexpr std::array<std::string_view, 3> kWords = {"set to", "decrement by",
                                                               "increment by"};
    return std::string(field_->target) + " " +
           std::string(kWords[static_cast<std::size_t>(mode_)]) + " " + std::to_string(amount_);
  }

  [[nodiscard]] std::string save() const override {
    return "-j " + std::string(field_->target) + " --" + std::string(field_->option) + "-" +
           std::string(kModeWords[static_cast<std::size_t>(mode_)]) + " " + std::to_string(amount_);
  }

 private:
  const FieldOf* field_;
  Mode mode_;
  std::uint8_t amount_;
};

template <const FieldOf& kField>
std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  for (std::size_t i = 0; i < kModeWords.size(); ++i) {
    const std::string key = std::string(kField.option) + "_" + std::string(kModeWords[i]);
    if (!options.has(key)) continue;
    const auto amount = static_cast<std::uint8_t>(options.get<std::uint64_t>(key));
    const auto mode = static_cast<Mode>(i);
    // xt_HL's check: a change by 0 makes no sense.
    if (mode != Mode::kSet && amount == 0) {
      throw FieldError("expected a change of 1-255: changing by 0 does nothing", "/" + key);
    }
    return std::make_unique<HopLimitTarget>(kField, mode, amount);
  }
  throw std::logic_error("HL: no mode among the options");
}

std::array<OptionSpec, 3> options_of(std::string_view set, std::string_view dec,
                                     std::string_view inc, std::string_view set_flag,
                                     std::string_view dec_flag, std::string_view inc_flag) {
  return {{{.key = set, .flag = set_flag, .type = &value_types::number(0xff), .doc = "set it"},
           {.key = dec,
            .flag = dec_flag,
            .type = &value_types::number(0xff),
            .doc = "decrement it by this much, down to 0"},
           {.key = inc,
            .flag = inc_flag,
            .type = &value_types::number(0xff),
            .doc = "increment it by this much, up to 255"}}};
}

const std::array<OptionSpec, 3> kTtlOptions =
    options_of("ttl_set", "ttl_dec", "ttl_inc", "--ttl-set", "--ttl-dec", "--ttl-inc");
const std::array<OptionSpec, 3> kHlOptions =
    options_of("hl_set", "hl_dec", "hl_inc", "--hl-set", "--hl-dec", "--hl-inc");
constexpr std::array<Constraint, 1> kTtlConstraints = {
    {{Constraint::Kind::kExactlyOne, "ttl_set ttl_dec ttl_inc"}}};
constexpr std::array<Constraint, 1> kHlConstraints = {
    {{Constraint::Kind::kExactlyOne, "hl_set hl_dec hl_inc"}}};

const TargetRegistrar kTtlRegistrar({.name = "TTL",
                                     .summary = "sets, decrements or increments the IPv4 TTL",
                                     .options = kTtlOptions,
                                     .constraints = kTtlConstraints,
                                     .tables = kMangleTable,
                                     .build = build<kTtl>});
const TargetRegistrar kHlRegistrar({.name = "HL",
                                    .summary = "sets, decrements or increments the IPv6 hop limit",
                                    .options = kHlOptions,
                                    .constraints = kHlConstraints,
                                    .tables = kMangleTable,
                                    .build = build<kHopLimit>});

}  // namespace

}  // namespace verdictd
