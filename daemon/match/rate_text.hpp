// Rates as iptables writes them for -m limit and -m hashlimit: "10/second"
// (or /s, /min, /hour, /day: any prefix of the unit) read into the period
// between two packets in 1/`scale` seconds, and printed back in the largest
// unit that keeps it whole ("3/hour", "10/sec"), as libxt_limit's
// parse_rate and print_rate do.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "extension/value_type.hpp"

namespace verdictd {

// A packet rate; parses to the period (std::uint64_t) in 1/scale seconds.
class PacketRateType final : public ValueType {
 public:
  // The fastest rate is `scale`/second: a slower one rounds to a period of 0.
  explicit PacketRateType(std::uint64_t scale) : scale_(scale) {}
  [[nodiscard]] std::string_view name() const override { return "packet rate"; }
  [[nodiscard]] std::string syntax() const override;
  [[nodiscard]] Value parse(const Json& v) const override;
  [[nodiscard]] std::string save_text(const Value& v) const override;
  [[nodiscard]] Json schema() const override;
  [[nodiscard]] Json example() const override { return "10/second"; }

 private:
  std::uint64_t scale_;
};

// A rate as written: the period between packets in 1/scale seconds, and
// the unit it was written in, in seconds (hashlimit's default expiry).
struct ParsedRate {
  std::uint64_t period = 0;
  std::uint64_t unit_seconds = 1;
};
// Nullopt when `text` is not a rate, or one faster than `scale`/second.
std::optional<ParsedRate> parse_packet_rate(std::string_view text, std::uint64_t scale);

// "3/hour", "10/sec": the period in 1/scale seconds as print_rate shows it.
std::string rate_text(std::uint64_t period, std::uint64_t scale);
// The unit rate_text shows the period in, in seconds.
std::uint64_t rate_text_unit(std::uint64_t period, std::uint64_t scale);

}  // namespace verdictd
