// -m statistic: every nth packet the rule sees, or each packet with a given
// probability (xt_statistic).
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

// The kernel draws 31 random bits and matches below probability * 2^31.
constexpr double kRandomRange = 2147483648.0;

// The negated forms: iptables takes the `!` on --every or --probability and
// prints it after the mode.
std::string mode_text(std::string_view prefix, std::string_view mode, bool negated) {
  return std::string(" ") + std::string(prefix) + "mode " + std::string(mode) +
         (negated ? " !" : "");
}

// The rule's place in its cycle, from 0 to every - 1.
struct NthState final : ExtensionState {
  explicit NthState(std::uint32_t start) : count(start) {}
  std::atomic<std::uint32_t> count;
};

class NthMatch final : public Match {
 public:
  NthMatch(std::uint32_t every, std::uint32_t packet, bool negated)
      : last_(every - 1), packet_(packet), negated_(negated) {}

  // As the kernel keeps it: the counter runs from 0 to every - 1 and starts
  // at every - 1 - packet, so the packet-th packet (from 0) is the first to
  // wrap it to 0, which matches.
  [[nodiscard]] std::unique_ptr<ExtensionState> make_state() const override {
    return std::make_unique<NthState>(last_ - packet_);
  }

  // One counter per rule for every thread, stepped by compare-exchange as the
  // kernel does across CPUs: no packet is counted twice or skipped.
  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    std::atomic<std::uint32_t>& count = extension_state<NthState>(state).count;
    std::uint32_t seen = count.load(std::memory_order_relaxed);
    std::uint32_t next = 0;
    do {
      next = seen == last_ ? 0 : seen + 1;
    } while (!count.compare_exchange_weak(seen, next, std::memory_order_relaxed));
    return (next == 0) != negated_;
  }

  // "statistic mode nth ! every 4 packet 1"; a packet of 0 is left out.
  void list(ListRow& row) const override {
    row.add_extra("statistic" + mode_text("", "nth", negated_) + " every " + every_text() +
                  (packet_ == 0 ? "" : " packet " + std::to_string(packet_)));
  }

  // iptables-save always names the packet.
  void save(SaveLine& line) const override {
    line.matches += " -m statistic" + mode_text("--", "nth", negated_) + " --every " +
                    every_text() + " --packet " + std::to_string(packet_);
  }

 private:
  [[nodiscard]] std::string every_text() const { return std::to_string(last_ + 1); }

  std::uint32_t last_;  // every - 1
  std::uint32_t packet_;
  bool negated_;
};

class RandomMatch final : public Match {
 public:
  // `threshold`: the probability times 2^31, rounded, as iptables hands it
  // to the kernel.
  RandomMatch(std::uint32_t threshold, bool negated) : threshold_(threshold), negated_(negated) {}

  bool matches(const PacketView& /*packet*/, EvalState& /*state*/) const override {
    // One generator per thread: no lock, and no sequence shared by threads.
    thread_local std::mt19937 generator{std::random_device{}()};
    return ((generator() >> 1) < threshold_) != negated_;
  }

  // "statistic mode random ! probability 0.29999999981"
  void list(ListRow& row) const override {
    row.add_extra("statistic" + mode_text("", "random", negated_) + " probability " +
                  probability_text());
  }

  void save(SaveLine& line) const override {
    line.matches += " -m statistic" + mode_text("--", "random", negated_) + " --probability " +
                    probability_text();
  }

 private:
  // The stored threshold back as a probability, with iptables' 11 decimals.
  [[nodiscard]] std::string probability_text() const {
    std::array<char, 32> text{};
    const auto result = std::to_chars(text.data(), text.data() + text.size(),
                                      threshold_ / kRandomRange, std::chars_format::fixed, 11);
    return {text.data(), result.ptr};
  }

  std::uint32_t threshold_;
  bool negated_;
};

// A probability from 0 to 1, as a JSON number.
class ProbabilityType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "probability"; }
  [[nodiscard]] Json example() const override { return 0.25; }
  [[nodiscard]] std::string syntax() const override { return "a probability from 0 to 1"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) throw_expected(syntax(), v);
    return v.get<double>();
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::to_string(std::get<double>(v));
  }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "number"}, {"minimum", 0}, {"maximum", 1}};
  }
};

const ProbabilityType kProbability;
constexpr std::array<std::string_view, 2> kModes = {"nth", "random"};
const ChoiceType kModeType("statistic mode", kModes);

void refuse_member(const OptionValues& members, const char* key, std::string_view mode) {
  if (members.has(key)) {
    throw FieldError(
        std::string("\"") + key + "\" does not apply to mode \"" + std::string(mode) + "\"",
        std::string("/") + key);
  }
}

std::unique_ptr<Match> build_nth(const OptionValues& members, bool negated) {
  refuse_member(members, "probability", "nth");
  if (!members.has("every")) throw FieldError(R"(statistic mode "nth" needs "every")");
  const auto every = static_cast<std::uint32_t>(members.get<std::uint64_t>("every"));
  if (every == 0) throw FieldError("expected a count 1-4294967295, got 0", "/every");
  const auto packet = static_cast<std::uint32_t>(members.get_or<std::uint64_t>("packet", 0));
  if (packet >= every) {
    throw FieldError("expected a packet 0-" + std::to_string(every - 1) +
                         ", below \"every\", got " + std::to_string(packet),
                     "/packet");
  }
  return std::make_unique<NthMatch>(every, packet, negated);
}

std::unique_ptr<Match> build_random(const OptionValues& members, bool negated) {
  refuse_member(members, "every", "random");
  refuse_member(members, "packet", "random");
  if (!members.has("probability")) {
    throw FieldError(R"(statistic mode "random" needs "probability")");
  }
  const auto threshold =
      static_cast<std::uint32_t>(std::lround(members.get<double>("probability") * kRandomRange));
  return std::make_unique<RandomMatch>(threshold, negated);
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValues members = options.members("statistic");
  const bool negated = options.negated("statistic");
  return members.get<std::uint64_t>("mode") == 0 ? build_nth(members, negated)
                                                 : build_random(members, negated);
}

const std::array<OptionSpec, 4> kMembers = {
    {{.key = "mode",
      .flag = "--mode",
      .type = &kModeType,
      .mandatory = true,
      .doc = "\"nth\": every nth packet; \"random\": each packet with a probability"},
     {.key = "every",
      .flag = "--every",
      .type = &value_types::number(0xffffffff),
      .doc = "nth: one packet of this many (1 or more)"},
     {.key = "packet",
      .flag = "--packet",
      .type = &value_types::number(0xffffffff),
      .doc = "nth: which of them, from 0 (below \"every\"; 0 by default)"},
     {.key = "probability",
      .flag = "--probability",
      .type = &kProbability,
      .doc = "random: the probability that a packet matches"}}};

// iptables takes the `!` on --every or --probability and prints it after
// the mode: each match saves itself.
const std::array<OptionSpec, 1> kOptions = {
    {{.key = "statistic",
      .negatable = true,
      .members = kMembers,
      .doc = "every nth packet, or each packet with a probability",
      .example = R"({"mode": "nth", "every": 3, "packet": 0})"}}};

const MatchRegistrar kRegistrar({.name = "statistic",
                                 .summary = "every nth packet, or packets at random",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
