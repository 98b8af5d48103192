// -m limit: at most a rate of packets on average, with bursts (xt_limit).
// One token bucket per rule, full when the rule is loaded, kept across a
// reload while the rule is unchanged; a packet the rule's earlier matches
// refuse never reaches it and takes no token.
#include <array>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/limit_bucket.hpp"
#include "match/rate_text.hpp"

namespace verdictd {

namespace {

// iptables' defaults: 3/hour, burst 5 (XT_LIMIT_AVG, XT_LIMIT_BURST).
constexpr std::uint32_t kDefaultPeriod = kLimitScale * 60 * 60 / 3;
constexpr std::uint32_t kDefaultBurst = 5;
constexpr std::uint32_t kMaxBurst = 10000;  // libxt_limit's bound on --limit-burst

class LimitMatch final : public Match {
 public:
  LimitMatch(std::uint32_t period, std::uint32_t burst, LimitCredits credits)
      : period_(period), burst_(burst), credits_(credits) {}

  [[nodiscard]] std::unique_ptr<ExtensionState> make_state() const override {
    return std::make_unique<LimitBucket>(credits_, jiffies_now());
  }

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    return extension_state<LimitBucket>(state).take(jiffies_now());
  }

  // "limit: avg 3/hour burst 5"
  void list(ListRow& row) const override {
    row.add_extra("limit: avg " + rate_text(period_, kLimitScale) + " burst " +
                  std::to_string(burst_));
  }

  // "-m limit --limit 3/hour", the burst only when not the default.
  void save(SaveLine& line) const override {
    line.matches += " -m limit --limit " + rate_text(period_, kLimitScale);
    if (burst_ != kDefaultBurst) line.matches += " --limit-burst " + std::to_string(burst_);
  }

 private:
  std::uint32_t period_;
  std::uint32_t burst_;
  LimitCredits credits_;
};

const PacketRateType kRateType(kLimitScale);

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValues members = options.members("limit");
  const auto period =
      static_cast<std::uint32_t>(members.get_or<std::uint64_t>("rate", kDefaultPeriod));
  const auto burst =
      static_cast<std::uint32_t>(members.get_or<std::uint64_t>("burst", kDefaultBurst));
  if (burst > kMaxBurst) {
    throw FieldError(
        "expected a burst 1-" + std::to_string(kMaxBurst) + ", got " + std::to_string(burst),
        "/burst");
  }
  const std::optional<LimitCredits> credits = limit_credits(period, burst);
  if (!credits) {
    // limit_mt_check's -ERANGE ("Overflow, try lower").
    throw FieldError("the kernel refuses a burst of " + std::to_string(burst) + " at " +
                     rate_text(period, kLimitScale) + ": its credits overflow, or it is 0");
  }
  return std::make_unique<LimitMatch>(period, burst, *credits);
}

const std::array<OptionSpec, 2> kMembers = {
    {{.key = "rate",
      .flag = "--limit",
      .type = &kRateType,
      .doc = "the average rate of packets that match (3/hour by default; at most 10000/second)"},
     {.key = "burst",
      .flag = "--limit-burst",
      .type = &value_types::number(0xffffffff),
      .doc = "how many packets may match at once before the rate applies, up to 10000 (5 by "
             "default)"}}};

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "limit",
      .members = kMembers,
      .doc = "packets up to an average rate, with bursts: {\"rate\": \"10/second\", \"burst\": "
             "5}; one bucket per rule, full when the rule is loaded",
      .example = R"({"rate": "10/second", "burst": 5})"}}};

const MatchRegistrar kRegistrar({.name = "limit",
                                 .summary = "packets up to an average rate (token bucket)",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
