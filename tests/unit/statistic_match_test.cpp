// -m statistic: which packets nth mode matches (the sequences the kernel gave
// for the same rules on 6.18), how often random mode matches, the errors, and
// the listing and iptables-save text iptables 1.8.9 prints for the same rules.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

using test::listed;
using test::saved;

using test::build;
using test::build_error;

std::string statistic(const std::string& options, bool negated = false) {
  return std::string(R"({")") + (negated ? "!" : "") + R"(statistic": )" + options + "}";
}

std::unique_ptr<Match> built(const std::string& options, bool negated = false) {
  return build(statistic(options, negated), negated ? "!statistic" : "statistic");
}

// One packet through the match, with the state `slot` keeps for it.
bool hits(const Match& match, const test::ExtensionSlot& slot) {
  EvalState state;
  return match.matches(PacketView::parse({}), slot.in(state));
}

// The numbers (from 1) of the packets among the next `count` that match.
std::vector<int> matched(const Match& match, const test::ExtensionSlot& slot, int count) {
  std::vector<int> numbers;
  for (int i = 1; i <= count; ++i) {
    if (hits(match, slot)) numbers.push_back(i);
  }
  return numbers;
}

// The same from the state the match starts with.
std::vector<int> matched(const Match& match, int count) {
  return matched(match, test::ExtensionSlot(match), count);
}

TEST(StatisticNth, PacketIsTheFirstToMatchCountingFromZero) {
  // Under the kernel, --every 3 --packet 0 matched packets 1, 4, 7, 10.
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": 3})"), 10), (std::vector{1, 4, 7, 10}));
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": 3, "packet": 0})"), 10),
            (std::vector{1, 4, 7, 10}));
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": 3, "packet": 1})"), 10),
            (std::vector{2, 5, 8}));
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": 3, "packet": 2})"), 10),
            (std::vector{3, 6, 9}));
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": 5, "packet": 0})"), 6), (std::vector{1, 6}));
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": 1})"), 3), (std::vector{1, 2, 3}));
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": "2", "packet": "1"})"), 4),
            (std::vector{2, 4}));
}

TEST(StatisticNth, NegatedMatchesTheOthers) {
  // The kernel, 6 packets through ! --every 4 --packet 1: all but the 2nd and 6th.
  EXPECT_EQ(matched(*built(R"({"mode": "nth", "every": 4, "packet": 1})", true), 6),
            (std::vector{1, 3, 4, 5}));
}

TEST(StatisticNth, TheCounterIsTheStateNotTheMatch) {
  // Two rules alike: each has its own state, kept by the ruleset beside them.
  auto rule = built(R"({"mode": "nth", "every": 2})");
  const test::ExtensionSlot first(*rule);
  const test::ExtensionSlot second(*rule);
  EXPECT_EQ(matched(*rule, first, 3), (std::vector{1, 3}));
  EXPECT_EQ(matched(*rule, second, 2), (std::vector{1}));
  EXPECT_EQ(matched(*rule, first, 2), (std::vector{2}));  // packets 4 and 5 of the first
}

TEST(StatisticNth, ThreadsShareOneCounter) {
  auto third = built(R"({"mode": "nth", "every": 3})");
  const test::ExtensionSlot slot(*third);
  constexpr int kThreads = 4;
  constexpr int kEach = 90000;  // a multiple of 3: exactly a third match
  std::vector<int> hits_by_thread(kThreads);
  {
    std::vector<std::jthread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) hits_by_thread[t] += hits(*third, slot) ? 1 : 0;
      });
    }
  }
  int total = 0;
  for (int h : hits_by_thread) total += h;
  EXPECT_EQ(total, kThreads * kEach / 3);
}

// The share of `count` packets a match takes.
double share(const Match& match, int count) {
  const test::ExtensionSlot slot(match);
  int n = 0;
  for (int i = 0; i < count; ++i) n += hits(match, slot) ? 1 : 0;
  return static_cast<double>(n) / count;
}

TEST(StatisticRandom, MatchesWithTheProbability) {
  constexpr int kPackets = 40000;
  // 5 standard deviations of a share of 40000 draws at 0.3: 5 * sqrt(0.3 * 0.7 / 40000) = 0.0115.
  constexpr double kTolerance = 0.0115;
  EXPECT_NEAR(share(*built(R"({"mode": "random", "probability": 0.3})"), kPackets), 0.3,
              kTolerance);
  EXPECT_NEAR(share(*built(R"({"mode": "random", "probability": 0.3})", true), kPackets), 0.7,
              kTolerance);
  EXPECT_EQ(share(*built(R"({"mode": "random", "probability": 0})"), 1000), 0.0);
  EXPECT_EQ(share(*built(R"({"mode": "random", "probability": 1})"), 1000), 1.0);
  EXPECT_EQ(share(*built(R"({"mode": "random", "probability": 1})", true), 1000), 0.0);
}

TEST(StatisticText, AsIptablesPrintsIt) {
  // iptables-legacy 1.8.9, -L -v -n and iptables-save of the same rules.
  auto nth = built(R"({"mode": "nth", "every": 3})");
  EXPECT_EQ(listed(*nth), "statistic mode nth every 3");
  EXPECT_EQ(saved(*nth), " -m statistic --mode nth --every 3 --packet 0");
  auto nth_packet = built(R"({"mode": "nth", "every": 3, "packet": 1})");
  EXPECT_EQ(listed(*nth_packet), "statistic mode nth every 3 packet 1");
  EXPECT_EQ(saved(*nth_packet), " -m statistic --mode nth --every 3 --packet 1");
  auto not_nth = built(R"({"mode": "nth", "every": 4, "packet": 1})", true);
  EXPECT_EQ(listed(*not_nth), "statistic mode nth ! every 4 packet 1");
  EXPECT_EQ(saved(*not_nth), " -m statistic --mode nth ! --every 4 --packet 1");
  auto quarter = built(R"({"mode": "random", "probability": 0.25})");
  EXPECT_EQ(listed(*quarter), "statistic mode random probability 0.25000000000");
  EXPECT_EQ(saved(*quarter), " -m statistic --mode random --probability 0.25000000000");
  // 0.3 is kept as round(0.3 * 2^31) / 2^31.
  auto not_random = built(R"({"mode": "random", "probability": 0.3})", true);
  EXPECT_EQ(listed(*not_random), "statistic mode random ! probability 0.29999999981");
  EXPECT_EQ(saved(*not_random), " -m statistic --mode random ! --probability 0.29999999981");
  EXPECT_EQ(listed(*built(R"({"mode": "random", "probability": 1})")),
            "statistic mode random probability 1.00000000000");
  EXPECT_EQ(listed(*built(R"({"mode": "random", "probability": 0})")),
            "statistic mode random probability 0.00000000000");
  EXPECT_EQ(saved(*built(R"({"mode": "random", "probability": 0.123456789012345})")),
            " -m statistic --mode random --probability 0.12345678918");
}

TEST(StatisticErrors, Refused) {
  auto error = [](const std::string& options) {
    return build_error(statistic(options), "statistic");
  };
  EXPECT_EQ(error("3"), ": expected an object with mode, every, packet, probability, got 3");
  EXPECT_EQ(error(R"({"every": 3})"), R"(: "statistic" needs "mode")");
  EXPECT_EQ(error(R"({"mode": "nth", "every": 3, "count": 1})"),
            R"(/count: unknown key "count"; expected mode, every, packet, probability)");
  EXPECT_EQ(error(R"({"mode": "first"})"), R"(/mode: expected "nth" or "random", got "first")");
  EXPECT_EQ(error(R"({"mode": "nth"})"), R"(: statistic mode "nth" needs "every")");
  EXPECT_EQ(error(R"({"mode": "nth", "every": 0})"),
            "/every: expected a count 1-4294967295, got 0");
  EXPECT_EQ(error(R"({"mode": "nth", "every": 4294967296})"),
            "/every: expected a number 0-4294967295, got 4294967296");
  EXPECT_EQ(error(R"({"mode": "nth", "every": 3, "packet": 3})"),
            R"(/packet: expected a packet 0-2, below "every", got 3)");
  EXPECT_EQ(error(R"({"mode": "nth", "every": 3, "probability": 0.5})"),
            R"(/probability: "probability" does not apply to mode "nth")");
  EXPECT_EQ(error(R"({"mode": "random"})"), R"(: statistic mode "random" needs "probability")");
  EXPECT_EQ(error(R"({"mode": "random", "probability": 1.5})"),
            "/probability: expected a probability from 0 to 1, got 1.5");
  EXPECT_EQ(error(R"({"mode": "random", "probability": "0.5"})"),
            R"(/probability: expected a probability from 0 to 1, got "0.5")");
  EXPECT_EQ(error(R"({"mode": "random", "probability": 0.5, "packet": 1})"),
            R"(/packet: "packet" does not apply to mode "random")");
}

}  // namespace
}  // namespace verdictd
