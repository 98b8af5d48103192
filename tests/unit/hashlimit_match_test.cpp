// -m hashlimit: the kernel's credits per key (64-bit, 2^39 a jiffy at HZ 250),
// upto and above, the key's parts by mode and mask, expiry of idle keys and
// the table's entry limit, byte rates, and the `iptables -L` / iptables-save
// text of iptables 1.8.9 for the same rules.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "extension_builders.hpp"
#include "match/hashlimit_table.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

// 10/second, burst 5, one key per source address.
HashlimitConfig per_source() {
  return {.mode = kHashSourceIp,
          .average = 100000,
          .burst = 5,
          .max = 1000,
          .expire_ms = 1000,
          .gc_interval_ms = 1000};
}

HashlimitKey key_of(const HashlimitConfig& config, const char* source,
                    const char* destination = "10.2.0.2", std::uint16_t sport = 1000,
                    std::uint16_t dport = 80) {
  return hashlimit_key(config, Family::kIPv4, ip(source), ip(destination), sport, dport);
}

int passed(HashlimitTable& table, const HashlimitKey& key, int packets, Jiffies at) {
  int count = 0;
  for (int i = 0; i < packets; ++i) count += table.take(key, 100, at).value() ? 1 : 0;
  return count;
}

TEST(HashlimitTable, EachKeyStartsFullAndRefillsPerJiffy) {
  HashlimitTable table(per_source(), 0);
  const HashlimitKey a = key_of(per_source(), "10.1.0.2");
  const HashlimitKey b = key_of(per_source(), "10.1.0.3");
  EXPECT_EQ(passed(table, a, 8, 10), 5);
  EXPECT_EQ(passed(table, b, 8, 10), 5);
  // 100 ms a packet: 25 jiffies at 2^39 credits each just cover its cost.
  EXPECT_EQ(passed(table, a, 1, 34), 0);
  EXPECT_EQ(passed(table, a, 1, 35), 1);
  EXPECT_EQ(table.size(), 2U);
}

TEST(HashlimitTable, ModeAndMasksMakeTheKey) {
  HashlimitConfig config = per_source();
  config.mode = kHashSourceIp | kHashDestinationPort;
  config.source_bits = 24;
  // Same /24, same port: one key; another port: another key.
  EXPECT_EQ(key_of(config, "10.1.0.2", "10.2.0.2", 1, 80),
            key_of(config, "10.1.0.99", "10.9.9.9", 2, 80));
  EXPECT_NE(key_of(config, "10.1.0.2", "10.2.0.2", 1, 80),
            key_of(config, "10.1.0.2", "10.2.0.2", 1, 81));
  EXPECT_NE(key_of(config, "10.1.0.2"), key_of(config, "10.1.1.2"));
  config.mode = 0;
  EXPECT_EQ(key_of(config, "10.1.0.2", "10.2.0.2", 1, 80),
            key_of(config, "10.7.0.2", "10.8.0.2", 5, 6));
}

TEST(HashlimitTable, IdleKeysExpireAndAFullTableRefusesNewOnes) {
  HashlimitConfig config = per_source();
  config.max = 2;
  HashlimitTable table(config, 0);
  EXPECT_TRUE(table.take(key_of(config, "10.1.0.2"), 100, 1).value());
  EXPECT_TRUE(table.take(key_of(config, "10.1.0.3"), 100, 1).value());
  EXPECT_FALSE(table.take(key_of(config, "10.1.0.4"), 100, 1).has_value());
  // A second (250 jiffies) idle: the next sweep forgets both.
  EXPECT_TRUE(table.take(key_of(config, "10.1.0.4"), 100, 1 + 250).value());
  EXPECT_EQ(table.size(), 1U);
}

TEST(HashlimitTable, ByteRatesRefillWholeSecondsUpToTheBurst) {
  // 1mb/s (cost 65535 a 16-byte chunk), no burst: a second's worth, 1 MiB.
  HashlimitConfig config = per_source();
  config.bytes = true;
  config.average = 65535;
  config.burst = 0;
  HashlimitTable table(config, 0);
  const HashlimitKey key = key_of(config, "10.1.0.2");
  int passed_packets = 0;
  for (int i = 0; i < 2000; ++i) passed_packets += table.take(key, 1500, 5).value() ? 1 : 0;
  // 1500 bytes are 94 chunks of 63999 credits: a full bucket (HZ * 2^24) holds 697.
  EXPECT_EQ(passed_packets, 697);
  config.burst = 2;  // two refills more
  HashlimitTable burst(config, 0);
  passed_packets = 0;
  for (int i = 0; i < 4000; ++i) passed_packets += burst.take(key, 1500, 5).value() ? 1 : 0;
  EXPECT_EQ(passed_packets, 3 * 697);
}

// Queue workers share a table: threads taking from the same keys in the same
// jiffy let exactly each key's burst through, and add each key once.
TEST(HashlimitTable, ThreadsShareEachKeysBurst) {
  HashlimitTable table(per_source(), 0);
  const std::array<HashlimitKey, 2> keys = {key_of(per_source(), "10.1.0.2"),
                                            key_of(per_source(), "10.1.0.3")};
  std::atomic<int> passed_packets{0};
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (table.take(keys[i % 2], 100, 7).value()) passed_packets.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(passed_packets.load(), 10);
  EXPECT_EQ(table.size(), 2U);
}

TEST(HashlimitCredits, RefusedWhereTheKernelRefuses) {
  HashlimitConfig config = per_source();
  config.burst = 0;
  EXPECT_FALSE(hashlimit_credits(config));
  config.burst = 1000000;
  config.average = 86400000000;  // 1/day
  EXPECT_FALSE(hashlimit_credits(config));
}

std::unique_ptr<Match> hashlimit(const std::string& options, bool negated = false) {
  return build(std::string(R"({")") + (negated ? "!" : "") + R"(hashlimit": )" + options + "}",
               negated ? "!hashlimit" : "hashlimit");
}

TEST(HashlimitMatch, UptoAndAboveOnTheSameBucket) {
  const auto upto = hashlimit(R"({"upto": "1/hour", "burst": 2, "name": "t"})");
  const auto above = hashlimit(R"({"upto": "1/hour", "burst": 2, "name": "t"})", true);
  const auto state = upto->make_state();
  EvalState eval;
  eval.extension_state = state.get();
  const PacketView packet = PacketView::parse({});
  EXPECT_FALSE(above->matches(packet, eval));  // under: takes a token, no match
  EXPECT_TRUE(upto->matches(packet, eval));
  EXPECT_TRUE(above->matches(packet, eval));  // over: takes nothing
  EXPECT_FALSE(upto->matches(packet, eval));
}

TEST(HashlimitMatch, TextAsIptablesPrintsIt) {
  const auto h1 = hashlimit(R"({"upto": "10/sec", "name": "h1"})");
  EXPECT_EQ(listed(*h1), "limit: up to 10/sec burst 5");
  EXPECT_EQ(saved(*h1),
            " -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name h1");
  const auto h2 = hashlimit(
      R"({"above": "10/sec", "burst": 20, "mode": "srcip,dstport", "name": "h2", "srcmask": 24})");
  EXPECT_EQ(listed(*h2), "limit: above 10/sec burst 20 mode srcip-dstport srcmask 24");
  EXPECT_EQ(saved(*h2),
            " -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 20 --hashlimit-mode "
            "srcip,dstport --hashlimit-name h2 --hashlimit-srcmask 24");
  const auto h3 = hashlimit(
      R"({"upto": "100kb/s", "name": "h3", "mode": ["dstip"], "htable_size": 1000,
          "htable_max": 2000, "htable_expire": 30000, "htable_gcinterval": 2000, "dstmask": 16})");
  EXPECT_EQ(listed(*h3),
            "limit: up to 100kb/s mode dstip htable-size 1000 htable-max 2000 htable-gcinterval "
            "2000 htable-expire 30000 dstmask 16");
  EXPECT_EQ(
      saved(*h3),
      " -m hashlimit --hashlimit-upto 100kb/s --hashlimit-mode dstip --hashlimit-name h3 "
      "--hashlimit-htable-size 1000 --hashlimit-htable-max 2000 --hashlimit-htable-gcinterval "
      "2000 --hashlimit-htable-expire 30000 --hashlimit-dstmask 16");
  const auto h5 = hashlimit(R"({"upto": "1mb/s", "burst": "2mb", "name": "h5"})");
  EXPECT_EQ(listed(*h5), "limit: up to 1mb/s burst 2mb");
  EXPECT_EQ(saved(*h5),
            " -m hashlimit --hashlimit-upto 1mb/s --hashlimit-burst 2mb --hashlimit-name h5");
  // Negated upto is above; 60/minute is shown as 1/sec, so its default
  // expiry (a minute) is written out.
  EXPECT_EQ(saved(*hashlimit(R"({"upto": "60/minute", "name": "n"})", true)),
            " -m hashlimit --hashlimit-above 1/sec --hashlimit-burst 5 --hashlimit-name n "
            "--hashlimit-htable-expire 60000");
}

TEST(HashlimitMatch, AnIpv6RuleShowsMasksAgainst128Bits) {
  ListRow row;
  row.family = Family::kIPv6;
  hashlimit(R"({"upto": "5/s", "name": "v6", "srcmask": 64})")->list(row);
  EXPECT_EQ(row.extra, "limit: up to 5/sec burst 5 srcmask 64");
}

TEST(HashlimitMatch, RefusesWhatIptablesRefuses) {
  EXPECT_NE(build_error(R"({"hashlimit": {"upto": "10/s"}})", "hashlimit"), "built");
  EXPECT_NE(build_error(R"({"hashlimit": {"name": "x"}})", "hashlimit"), "built");
  EXPECT_NE(
      build_error(R"({"hashlimit": {"upto": "1/s", "above": "1/s", "name": "x"}})", "hashlimit"),
      "built");
  EXPECT_NE(build_error(R"({"hashlimit": {"upto": "1000001/s", "name": "x"}})", "hashlimit"),
            "built");
  EXPECT_NE(
      build_error(R"({"hashlimit": {"upto": "1/s", "burst": 1000001, "name": "x"}})", "hashlimit"),
      "built");
  EXPECT_NE(
      build_error(R"({"hashlimit": {"upto": "1mb/s", "burst": "1kb", "name": "x"}})", "hashlimit"),
      "built");
  EXPECT_NE(
      build_error(R"({"hashlimit": {"upto": "1/s", "mode": "srcmac", "name": "x"}})", "hashlimit"),
      "built");
  EXPECT_EQ(
      build_error(
          R"({"hashlimit": {"upto": "1/s", "mode": "srcip,srcport,dstip,dstport", "name": "x"}})",
          "hashlimit"),
      "built");
}

}  // namespace
}  // namespace verdictd
