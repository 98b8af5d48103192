// -m limit: xt_limit's credit arithmetic at HZ 250 (refill per jiffy, the
// burst, 32-bit wrap), the rates iptables reads and prints, the pairs the
// kernel refuses, and the `iptables -L` / iptables-save text of 1.8.9.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "extension_builders.hpp"
#include "match/limit_bucket.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

std::unique_ptr<Match> limit(const std::string& options) {
  return build(R"({"limit": )" + options + "}", "limit");
}

LimitCredits credits(std::uint32_t period, std::uint32_t burst) {
  return limit_credits(period, burst).value();
}

// The jiffies (from `start`, one packet at each) at which packets pass.
std::vector<Jiffies> passing(LimitBucket& bucket, const std::vector<Jiffies>& at) {
  std::vector<Jiffies> passed;
  for (const Jiffies now : at) {
    if (bucket.take(now)) passed.push_back(now);
  }
  return passed;
}

TEST(LimitCredits, KernelUnitsAtHz250) {
  EXPECT_EQ(limit_credits_per_jiffy(), 128U);
  // 10/second: 1000 (1/10000 s) per packet, 32000 credits a second.
  EXPECT_EQ(credits(1000, 5).cost, 3200U);
  EXPECT_EQ(credits(1000, 5).cap, 16000U);
  // 3/hour overflows the product, so it is divided first: 1200 s a packet.
  EXPECT_EQ(credits(12000000, 5).cost, 38400000U);
  EXPECT_EQ(credits(12000000, 5).cap, 192000000U);
  // Refused as limit_mt_check refuses them: burst 0, and 3/day's credits wrap.
  EXPECT_FALSE(limit_credits(1000, 0));
  EXPECT_FALSE(limit_credits(288000000, 5));
}

TEST(LimitBucket, BurstThenOnePacketPerPeriodAtJiffyGranularity) {
  LimitBucket bucket(credits(1000, 5), 100);
  // Full at start: five packets in the same jiffy pass, the sixth does not.
  EXPECT_EQ(passing(bucket, {100, 100, 100, 100, 100, 100}),
            (std::vector<Jiffies>{100, 100, 100, 100, 100}));
  // 3200 credits a packet at 128 a jiffy: 25 jiffies (100 ms). A refused
  // packet keeps what has accrued.
  EXPECT_EQ(passing(bucket, {124, 125, 125, 149, 150}), (std::vector<Jiffies>{125, 150}));
}

TEST(LimitBucket, RefillsNoFurtherThanTheBurst) {
  LimitBucket bucket(credits(1000, 3), 0);
  EXPECT_EQ(passing(bucket, {0, 0, 0, 0}).size(), 3U);
  // An hour idle fills the bucket to 3 packets, not more.
  EXPECT_EQ(passing(bucket, {900000, 900000, 900000, 900000}).size(), 3U);
}

TEST(LimitBucket, CreditsWrapIn32BitsAfterALongIdle) {
  LimitBucket bucket(credits(1000, 5), 0);
  EXPECT_EQ(passing(bucket, {0, 0, 0, 0, 0, 0}).size(), 5U);
  // 2^25 jiffies times 128 is 2^32: the kernel's u32 increase is 0, and
  // the bucket stays empty however long it was idle.
  EXPECT_FALSE(bucket.take(Jiffies{1} << 25U));
}

TEST(LimitBucket, ThreadsShareOneBurst) {
  LimitBucket bucket(credits(1000, 5), 0);
  std::atomic<int> passed_packets{0};
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (bucket.take(0)) passed_packets.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(passed_packets.load(), 5);
}

TEST(LimitMatch, RatesAsIptablesReadsAndPrintsThem) {
  EXPECT_EQ(listed(*limit("{}")), "limit: avg 3/hour burst 5");
  EXPECT_EQ(saved(*limit("{}")), " -m limit --limit 3/hour");
  EXPECT_EQ(listed(*limit(R"({"rate": "10/s", "burst": 7})")), "limit: avg 10/sec burst 7");
  EXPECT_EQ(saved(*limit(R"({"rate": "10/s", "burst": 7})")),
            " -m limit --limit 10/sec --limit-burst 7");
  EXPECT_EQ(saved(*limit(R"({"rate": "3/hour", "burst": 5})")), " -m limit --limit 3/hour");
  EXPECT_EQ(listed(*limit(R"({"rate": "7/minute"})")), "limit: avg 7/min burst 5");
  EXPECT_EQ(listed(*limit(R"({"rate": "10000"})")), "limit: avg 10000/sec burst 5");
  EXPECT_EQ(listed(*limit(R"({"rate": "2/DAY", "burst": 1})")), "limit: avg 2/day burst 1");
  EXPECT_EQ(listed(*limit(R"({"rate": "7/sec"})")), "limit: avg 7/sec burst 5");
  EXPECT_EQ(listed(*limit(R"({"rate": "3/sec"})")), "limit: avg 3/sec burst 5");
}

TEST(LimitMatch, RefusesWhatIptablesAndTheKernelRefuse) {
  EXPECT_NE(build_error(R"({"limit": {"rate": "10001/second"}})", "limit"), "built");
  EXPECT_NE(build_error(R"({"limit": {"rate": "5/fortnight"}})", "limit"), "built");
  EXPECT_NE(build_error(R"({"limit": {"rate": "0/s"}})", "limit"), "built");
  EXPECT_NE(build_error(R"({"limit": {"rate": "3/day"}})", "limit"), "built");
  EXPECT_NE(build_error(R"({"limit": {"burst": 10001}})", "limit"), "built");
  EXPECT_NE(build_error(R"({"limit": {"burst": 0}})", "limit"), "built");
  EXPECT_EQ(build_error(R"({"limit": {"rate": "10/s", "burst": 10000}})", "limit"), "built");
}

TEST(LimitMatch, EachRuleHasItsOwnFullBucket) {
  const auto match = limit(R"({"rate": "1/hour", "burst": 2})");
  const test::ExtensionSlot first(*match);
  const test::ExtensionSlot second(*match);
  EvalState eval;
  const PacketView packet = PacketView::parse({});
  EXPECT_TRUE(match->matches(packet, first.in(eval)));
  EXPECT_TRUE(match->matches(packet, first.in(eval)));
  EXPECT_FALSE(match->matches(packet, first.in(eval)));
  EXPECT_TRUE(match->matches(packet, second.in(eval)));
}

}  // namespace
}  // namespace verdictd
