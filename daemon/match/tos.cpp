// -m tos: the IPv4 TOS byte or the IPv6 traffic class under a mask, as
// xt_dscp's tos_mt. A symbolic name (libxt_tos's tos_values) stands for its
// value under the mask 0x3f; a number without a mask is compared whole.
#include <strings.h>

#include <array>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::uint32_t kSymbolicMask = 0x3f;
constexpr std::uint32_t kByte = 0xff;

struct TosName {
  std::string_view name;
  std::uint8_t value;
};
constexpr std::array<TosName, 5> kNames = {{{"Minimize-Cost", 0x02},
                                            {"Maximize-Reliability", 0x04},
                                            {"Maximize-Throughput", 0x08},
                                            {"Minimize-Delay", 0x10},
                                            {"Normal-Service", 0x00}}};

constexpr std::string_view kWhat =
    R"(a TOS value 0-255 with an optional "/mask" ("0x10", "0x04/0x0c"), or Minimize-Cost, )"
    "Maximize-Reliability, Maximize-Throughput, Minimize-Delay or Normal-Service";

// "0x10/0xff", as iptables-save and iptables -L -n print the test.
std::string tos_text(const ValueMask& tos) {
  return hex_byte(static_cast<std::uint8_t>(tos.value)) + "/" +
         hex_byte(static_cast<std::uint8_t>(tos.mask));
}

class TosType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "TOS value/mask"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (v.is_string()) {
      const std::string& text = v.get_ref<const std::string&>();
      for (const TosName& known : kNames) {
        // libxt_tos compares the names without case.
        if (text.size() == known.name.size() &&
            strncasecmp(text.c_str(), known.name.data(), text.size()) == 0) {
          return ValueMask{known.value, kSymbolicMask};
        }
      }
    }
    const auto [value, mask] = parse_value_mask(v, kWhat);
    if (value > kByte || (mask != 0xffffffffU && mask > kByte)) throw_expected(kWhat, v);
    return ValueMask{value, mask & kByte};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return tos_text(std::get<ValueMask>(v));
  }
  [[nodiscard]] Json example() const override { return "0x10/0x3f"; }
  [[nodiscard]] Json schema() const override {
    return Json{{"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 255}},
                                       Json{{"type", "string"}, {"minLength", 1}}})}};
  }
};

const TosType kTosType;

class TosMatch final : public Match {
 public:
  TosMatch(ValueMask tos, bool negated) : tos_(tos), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return ((packet.tos & tos_.mask) == tos_.value) != negated_;
  }

  // "tos match0x10/0xff", "tos match!0x10/0x3f": libxt_tos prints no space.
  void list(ListRow& row) const override {
    row.add_extra(std::string("tos match") + (negated_ ? "!" : "") + tos_text(tos_));
  }

 private:
  ValueMask tos_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<TosMatch>(options.get<ValueMask>("tos"), options.negated("tos"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "tos",
      .flag = "--tos",
      .type = &kTosType,
      .negatable = true,
      .doc = "the IPv4 TOS byte or the IPv6 traffic class, under the mask (all 8 bits when none "
             "is written, 0x3f for a name), equals the value"}}};

const MatchRegistrar kRegistrar({.name = "tos",
                                 .summary = "the IPv4 TOS byte or the IPv6 traffic class",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
