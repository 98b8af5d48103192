#include <gtest/gtest.h>

#include <chrono>

#include "conntrack/miss_policy.hpp"

namespace verdictd {
namespace {

using std::chrono::milliseconds;

constexpr MissBudget kBudget{.per_second = 100, .burst = 10};
const ConntrackTime kStart = ConntrackClock::now();

bool applied() { return true; }
bool pending() { return false; }

// How many of `count` misses at `now` get MissAnswer::kAsk (the rest must be
// kOverBudget).
int asked(MissPolicy& policy, int count, ConntrackTime now) {
  int asks = 0;
  for (int i = 0; i < count; ++i) {
    const MissAnswer answer = policy.decide(0, pending, now);
    EXPECT_NE(answer, MissAnswer::kAbsent);
    if (answer == MissAnswer::kAsk) ++asks;
  }
  return asks;
}

TEST(ConntrackMissPolicy, NothingIsKnownBeforeTheFirstDump) {
  MissPolicy policy(kBudget);
  EXPECT_EQ(policy.decide(0, applied, kStart), MissAnswer::kAsk);
}

TEST(ConntrackMissPolicy, AfterAFullDumpWithEveryEventAppliedTheKernelHasNone) {
  MissPolicy policy(kBudget);
  policy.dumped(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(policy.decide(0, applied, kStart), MissAnswer::kAbsent);
}

TEST(ConntrackMissPolicy, EventsNotYetAppliedMayHoldTheConnection) {
  MissPolicy policy(kBudget);
  policy.dumped(0, 0);
  EXPECT_EQ(policy.decide(0, pending, kStart), MissAnswer::kAsk);
}

TEST(ConntrackMissPolicy, EventsAreLookedAtOnlyWhenTheRestIsComplete) {
  MissPolicy policy(kBudget);
  int looked = 0;
  const auto counted = [&looked] {
    ++looked;
    return true;
  };
  policy.decide(0, counted, kStart);  // no dump yet
  EXPECT_EQ(looked, 0);
  policy.dumped(0, 0);
  policy.decide(0, counted, kStart);
  EXPECT_EQ(looked, 1);
}

TEST(ConntrackMissPolicy, LostEventsAskUntilTheNextDump) {
  MissPolicy policy(kBudget);
  policy.dumped(0, 0);
  policy.lost_events();
  EXPECT_EQ(policy.decide(0, applied, kStart), MissAnswer::kAsk);
  policy.dumped(0, 0);
  EXPECT_EQ(policy.decide(0, applied, kStart), MissAnswer::kAbsent);
}

TEST(ConntrackMissPolicy, AFlowDroppedByTheTableMayBeTheKernels) {
  MissPolicy policy(kBudget);
  policy.dumped(3, 3);  // dropped before the dump: the dump brought them back
  EXPECT_EQ(policy.decide(3, applied, kStart), MissAnswer::kAbsent);
  EXPECT_EQ(policy.decide(4, applied, kStart), MissAnswer::kAsk);  // dropped since
  policy.dumped(4, 4);
  EXPECT_EQ(policy.decide(4, applied, kStart), MissAnswer::kAbsent);
}

TEST(ConntrackMissPolicy, ADumpThatDroppedFlowsIsIncomplete) {
  MissPolicy policy(kBudget);
  policy.dumped(0, 2);  // the kernel has more than the table holds
  EXPECT_EQ(policy.decide(2, applied, kStart), MissAnswer::kAsk);
}

TEST(ConntrackMissPolicy, AsksNoMoreThanTheBurstAtOnce) {
  MissPolicy policy(kBudget);
  EXPECT_EQ(asked(policy, 1000, kStart), 10);
}

TEST(ConntrackMissPolicy, TheBudgetRefillsAtItsRate) {
  MissPolicy policy(kBudget);
  asked(policy, 1000, kStart);
  // 100 a second: 5 in 50 ms.
  EXPECT_EQ(asked(policy, 1000, kStart + milliseconds(50)), 5);
  // A flood lasting a second is asked about 100 times, not once a packet.
  int asks = 0;
  for (int ms = 51; ms <= 1050; ++ms) asks += asked(policy, 100, kStart + milliseconds(ms));
  EXPECT_NEAR(asks, 100, 1);  // a tenth of a token a step, in binary fractions
}

TEST(ConntrackMissPolicy, AnIdleBudgetHoldsNoMoreThanTheBurst) {
  MissPolicy policy(kBudget);
  asked(policy, 1000, kStart);
  EXPECT_EQ(asked(policy, 1000, kStart + std::chrono::hours(1)), 10);
}

}  // namespace
}  // namespace verdictd
