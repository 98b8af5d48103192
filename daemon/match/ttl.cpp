// -m ttl (IPv4 TTL) and -m hl (IPv6 hop limit): equal to, below or above a value.
#include <array>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

enum class Compare : std::uint8_t { kEqual, kNotEqual, kLess, kGreater };

class TtlMatch final : public Match {
 public:
  TtlMatch(Family family, Compare compare, std::uint8_t value)
      : family_(family), compare_(compare), value_(value) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    switch (compare_) {
      case Compare::kEqual:
        return packet.ttl == value_;
      case Compare::kNotEqual:
        return packet.ttl != value_;
      case Compare::kLess:
        return packet.ttl < value_;
      case Compare::kGreater:
        return packet.ttl > value_;
    }
    return false;
  }

  [[nodiscard]] std::optional<Family> family() const override { return family_; }

  // "TTL match TTL == 64", "HL match HL < 10".
  void list(ListRow& row) const override {
    static constexpr std::array<std::string_view, 4> kOperators = {"==", "!=", "<", ">"};
    const std::string name = is_v4() ? "TTL" : "HL";
    row.add_extra(name + " match " + name + " " +
                  std::string(kOperators[static_cast<std::size_t>(compare_)]) + " " +
                  std::to_string(value_));
  }

 private:
  [[nodiscard]] bool is_v4() const { return family_ == Family::kIPv4; }

  Family family_;
  Compare compare_;
  std::uint8_t value_;
};

// {"eq"|"lt"|"gt": N}: one comparison; iptables can negate only --ttl-eq
// and --hl-eq.
std::unique_ptr<Match> build_for(Family family, std::string_view key, const OptionValues& options) {
  const OptionValue& given = *options.find(key);
  if (given.members.size() != 1) {
    throw FieldError(std::string(key) + (given.members.empty() ? " needs" : " takes at most") +
                     R"( one of "eq", "lt" or "gt")");
  }
  const OptionValue& comparison = given.members.front();
  const std::string_view name = comparison.spec->key;
  Compare compare = name == "eq"   ? Compare::kEqual
                    : name == "lt" ? Compare::kLess
                                   : Compare::kGreater;
  if (given.negated) {
    if (compare != Compare::kEqual) {
      throw FieldError("only \"eq\" can be negated; write the opposite comparison instead",
                       "/" + std::string(name));
    }
    compare = Compare::kNotEqual;
  }
  return std::make_unique<TtlMatch>(
      family, compare, static_cast<std::uint8_t>(std::get<std::uint64_t>(comparison.value)));
}

std::unique_ptr<Match> build_ttl(const OptionValues& options, const BuildContext& /*context*/) {
  return build_for(Family::kIPv4, "ttl", options);
}

std::unique_ptr<Match> build_hop_limit(const OptionValues& options,
                                       const BuildContext& /*context*/) {
  return build_for(Family::kIPv6, "hop_limit", options);
}

const std::array<OptionSpec, 3> kTtlComparisons = {
    {{.key = "eq", .flag = "--ttl-eq", .type = &value_types::number(0xff), .doc = "equal to"},
     {.key = "lt", .flag = "--ttl-lt", .type = &value_types::number(0xff), .doc = "below"},
     {.key = "gt", .flag = "--ttl-gt", .type = &value_types::number(0xff), .doc = "above"}}};
const std::array<OptionSpec, 3> kHopLimitComparisons = {
    {{.key = "eq", .flag = "--hl-eq", .type = &value_types::number(0xff), .doc = "equal to"},
     {.key = "lt", .flag = "--hl-lt", .type = &value_types::number(0xff), .doc = "below"},
     {.key = "gt", .flag = "--hl-gt", .type = &value_types::number(0xff), .doc = "above"}}};

const std::array<OptionSpec, 1> kTtlOptions = {
    {{.key = "ttl",
      .negatable = true,
      .members = kTtlComparisons,
      .doc = "the IPv4 TTL compared with a value: one of \"eq\", \"lt\", \"gt\" (only \"eq\" "
             "negated)",
      .example = R"({"eq": 64})"}}};
const std::array<OptionSpec, 1> kHopLimitOptions = {
    {{.key = "hop_limit",
      .negatable = true,
      .members = kHopLimitComparisons,
      .doc = "the IPv6 hop limit compared with a value: one of \"eq\", \"lt\", \"gt\" (only "
             "\"eq\" negated)",
      .example = R"({"eq": 64})"}}};

const MatchRegistrar kTtl(
    {.name = "ttl", .summary = "the IPv4 TTL", .options = kTtlOptions, .build = build_ttl});
const MatchRegistrar kHopLimit({.name = "hl",
                                .summary = "the IPv6 hop limit",
                                .options = kHopLimitOptions,
                                .build = build_hop_limit});

}  // namespace

}  // namespace verdictd
