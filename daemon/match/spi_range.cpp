#include "match/spi_range.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::uint64_t kMaxSpi = 0xffffffff;
constexpr std::string_view kWhat = R"(an SPI 0-4294967295 or a range "lo:hi")";

std::string range_text(const SpiTest& test) {
  return test.low == test.high ? std::to_string(test.low)
                               : std::to_string(test.low) + ":" + std::to_string(test.high);
}

class SpiRangeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "SPI range"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_string()) {
      const std::uint64_t spi = parse_uint(v, kMaxSpi, kWhat);
      return CountRange{spi, spi};
    }
    const std::string& text = v.get_ref<const std::string&>();
    const std::size_t colon = text.find(':');
    const auto low = number(std::string_view(text).substr(0, colon), 0);
    const auto high = colon == std::string::npos
                          ? low
                          : number(std::string_view(text).substr(colon + 1), kMaxSpi);
    if (!low || !high) throw_expected(kWhat, v);
    if (*low > *high) throw_expected(R"(a range "lo:hi" with lo <= hi)", v);
    return CountRange{*low, *high};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    const auto& range = std::get<CountRange>(v);
    return range_text(
        {static_cast<std::uint32_t>(range.low), static_cast<std::uint32_t>(range.high)});
  }
  [[nodiscard]] Json example() const override { return "256:511"; }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", kMaxSpi}},
                               Json{{"type", "string"}, {"pattern", "^[0-9]*(:[0-9]*)?$"}}})}};
  }

 private:
  // An empty end is open, as libxtables' parse_range takes ":10" and "5:".
  static std::optional<std::uint64_t> number(std::string_view digits, std::uint64_t if_empty) {
    if (digits.empty()) return if_empty;
    std::uint64_t n = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (error != std::errc() || end != digits.data() + digits.size() || n > kMaxSpi) {
      return std::nullopt;
    }
    return n;
  }
};

}  // namespace

SpiTest SpiTest::from(const OptionValues& options, std::string_view key) {
  const OptionValue* given = options.find(key);
  if (given == nullptr) return {};
  const auto& range = std::get<CountRange>(given->value);
  return {static_cast<std::uint32_t>(range.low), static_cast<std::uint32_t>(range.high),
          given->negated};
}

std::string SpiTest::list_text(std::string_view name) const {
  if (low == 0 && high == kMaxSpi && !negated) return {};
  return std::string(name) + (low == high ? ":" : "s:") + (negated ? "!" : "") + range_text(*this);
}

std::string SpiTest::save_text(std::string_view flag) const {
  if (low == 0 && high == kMaxSpi) return {};
  return std::string(negated ? " ! " : " ") + std::string(flag) + " " + range_text(*this);
}

const ValueType& spi_range_type() {
  static const SpiRangeType type;
  return type;
}

}  // namespace verdictd
