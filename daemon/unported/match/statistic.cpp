// -m statistic: every nth packet the rule sees, or each packet with a given
// probability (xt_statistic).
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
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

// A member of the statistic object, with its name in the error's pointer.
template <class Parse>
auto member(const Json& object, const char* key, Parse parse) {
  try {
    return parse(object[key]);
  } catch (FieldError& e) {
    e.pointer_suffix = std::string("/") + key + e.pointer_suffix;
    throw;
  }
}

void refuse_member(const Json& object, const char* key, std::string_view mode) {
  if (object.contains(key)) {
    throw FieldError(
        std::string("\"") + key + "\" does not apply to mode \"" + std::string(mode) + "\"",
        std::string("/") + key);
  }
}

std::unique_ptr<Match> make_nth(const MatchArgs& args) {
  const Json& value = args.value;
  refuse_member(value, "probability", "nth");
  if (!value.contains("every")) {
    throw_expected(R"(an object {"mode": "nth", "every": N} with an optional "packet": P)", value);
  }
  const std::uint32_t every = member(value, "every", [](const Json& v) {
    const std::uint32_t n = parse_uint(v, 0xffffffff, "a count 1-4294967295");
    if (n == 0) throw_expected("a count 1-4294967295", v);
    return n;
  });
  const std::uint32_t packet =
      !value.contains("packet") ? 0 : member(value, "packet", [every](const Json& v) {
        return parse_uint(v, every - 1,
                          "a packet 0-" + std::to_string(every - 1) + ", below \"every\"");
      });
  return std::make_unique<NthMatch>(every, packet, args.negated);
}

std::unique_ptr<Match> make_random(const MatchArgs& args) {
  const Json& value = args.value;
  refuse_member(value, "every", "random");
  refuse_member(value, "packet", "random");
  if (!value.contains("probability")) {
    throw_expected(R"(an object {"mode": "random", "probability": P})", value);
  }
  const std::uint32_t threshold = member(value, "probability", [](const Json& v) {
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
      throw_expected("a probability from 0 to 1", v);
    }
    return static_cast<std::uint32_t>(std::lround(v.get<double>() * kRandomRange));
  });
  return std::make_unique<RandomMatch>(threshold, args.negated);
}

std::unique_ptr<Match> make_statistic(const MatchArgs& args) {
  constexpr std::string_view kWhat =
      R"(an object {"mode": "nth", "every": N, "packet": P} or {"mode": "random", "probability": P})";
  expect_object_keys(args.value, {"mode", "every", "packet", "probability"}, kWhat);
  if (!args.value.contains("mode")) throw_expected(kWhat, args.value);
  const bool nth = member(args.value, "mode", [](const Json& mode) {
    if (mode != "nth" && mode != "random") throw_expected(R"("nth" or "random")", mode);
    return mode == "nth";
  });
  return nth ? make_nth(args) : make_random(args);
}

const MatchRegistrar kRegistrar("statistic", {make_statistic, true});

}  // namespace

}  // namespace verdictd
