#include "match/tos_value.hpp"

#include <strings.h>

#include <array>
#include <nlohmann/json.hpp>

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

}  // namespace

const ValueType& tos_value_type() {
  static const TosType kType;
  return kType;
}

std::string tos_text(const ValueMask& tos) {
  return hex_byte(static_cast<std::uint8_t>(tos.value)) + "/" +
         hex_byte(static_cast<std::uint8_t>(tos.mask));
}

}  // namespace verdictd
