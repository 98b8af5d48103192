#include "match/rate_text.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string_view>

#include "extension/values.hpp"

namespace verdictd {

namespace {

struct Unit {
  std::string_view name;   // as parse_rate takes it (any prefix)
  std::string_view shown;  // as print_rate prints it
  std::uint64_t seconds;
};

constexpr std::uint64_t kMinute = 60;
constexpr std::uint64_t kHour = 60 * kMinute;
constexpr std::uint64_t kDay = 24 * kHour;

// Longest first, the order print_rate tries them in.
constexpr std::array<Unit, 4> kUnits = {{{"day", "day", kDay},
                                         {"hour", "hour", kHour},
                                         {"minute", "min", kMinute},
                                         {"second", "sec", 1}}};

bool is_unit_prefix(std::string_view written, std::string_view unit) {
  if (written.empty() || written.size() > unit.size()) return false;
  for (std::size_t i = 0; i < written.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(written[i])) != unit[i]) return false;
  }
  return true;
}

}  // namespace

std::string PacketRateType::syntax() const {
  return "a rate \"N/second\", \"N/minute\", \"N/hour\" or \"N/day\" (at most " +
         std::to_string(scale_) + "/second)";
}

std::optional<ParsedRate> parse_packet_rate(std::string_view text, std::uint64_t scale) {
  const std::size_t slash = text.find('/');
  const std::string_view count_text = text.substr(0, slash);
  std::uint64_t count = 0;
  const auto [end, error] =
      std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (error != std::errc{} || end != count_text.data() + count_text.size() || count == 0) {
    return std::nullopt;
  }
  std::uint64_t seconds = 1;
  if (slash != std::string_view::npos) {
    const std::string_view unit_text = text.substr(slash + 1);
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (is_unit_prefix(unit_text, candidate.name)) unit = &candidate;
    }
    if (unit == nullptr) return std::nullopt;
    seconds = unit->seconds;
  }
  // iptables rounds down: 7/minute is a period of 85714 at scale 10000.
  const std::uint64_t period = scale * seconds / count;
  if (period == 0) return std::nullopt;
  return ParsedRate{.period = period, .unit_seconds = seconds};
}

Value PacketRateType::parse(const Json& v) const {
  const std::optional<ParsedRate> rate = parse_packet_rate(expect_string(v, syntax()), scale_);
  if (!rate) throw_expected(syntax(), v);
  return rate->period;
}

std::string PacketRateType::save_text(const Value& v) const {
  return rate_text(std::get<std::uint64_t>(v), scale_);
}

Json PacketRateType::schema() const {
  return Json{{"type", "string"},
              {"pattern",
               "^[0-9]+(/([sS][eE]?[cC]?[oO]?[nN]?[dD]?|[mM][iI]?[nN]?[uU]?[tT]?[eE]?|"
               "[hH][oO]?[uU]?[rR]?|[dD][aA]?[yY]?))?$"}};
}

namespace {

// The largest unit in which the rate is a whole number of packets, or
// nearly: print_rate moves to a smaller unit once the remainder of the
// division outweighs its quotient.
const Unit& shown_unit(std::uint64_t period, std::uint64_t scale) {
  std::size_t chosen = 0;
  for (std::size_t i = 1; i < kUnits.size(); ++i) {
    const std::uint64_t per_unit = scale * kUnits[i].seconds;
    if (period > per_unit || per_unit / period < per_unit % period) break;
    chosen = i;
  }
  return kUnits[chosen];
}

}  // namespace

std::string rate_text(std::uint64_t period, std::uint64_t scale) {
  const Unit& unit = shown_unit(period, scale);
  return std::to_string(scale * unit.seconds / period) + "/" + std::string(unit.shown);
}

std::uint64_t rate_text_unit(std::uint64_t period, std::uint64_t scale) {
  return shown_unit(period, scale).seconds;
}

}  // namespace verdictd
