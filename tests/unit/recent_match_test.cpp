// -m recent: xt_recent's order of operations (set, rcheck, update, remove),
// hitcount within seconds, the eviction of the least recently seen entry
// when the list is full, the ring of stamps, --rttl and --reap, the
// /proc/net/xt_recent text, and the `iptables -L` / iptables-save text of
// iptables 1.8.9.
#include <gtest/gtest.h>

#include "extension_builders.hpp"
#include "match/recent_table.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;
using Command = RecentCheck::Command;

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

std::array<std::uint8_t, 16> ones() {
  std::array<std::uint8_t, 16> mask{};
  mask.fill(0xff);
  return mask;
}

constexpr Jiffies kStart = 1000000;

struct List {
  RecentTable table{ones(), recent_stamps_mask(0)};
  bool run(const RecentCheck& check, const char* address, Jiffies at, std::uint8_t ttl = 64) {
    return table.evaluate(check, recent_stamps_mask(check.hit_count), ip(address), ttl, at);
  }
};

const RecentCheck kSet{.command = Command::kSet};

TEST(RecentTable, SetAlwaysMatchesAndCheckFindsTheAddress) {
  List list;
  const RecentCheck check{.command = Command::kCheck};
  EXPECT_FALSE(list.run(check, "10.0.0.1", kStart));
  EXPECT_TRUE(list.run(kSet, "10.0.0.1", kStart));
  EXPECT_TRUE(list.run(kSet, "10.0.0.1", kStart));
  EXPECT_TRUE(list.run(check, "10.0.0.1", kStart));
  EXPECT_FALSE(list.run(check, "10.0.0.2", kStart));
  // Inverted: the result flips, a miss matches.
  EXPECT_TRUE(list.run({.command = Command::kCheck, .invert = true}, "10.0.0.2", kStart));
  EXPECT_TRUE(list.run({.command = Command::kRemove}, "10.0.0.1", kStart));
  EXPECT_FALSE(list.run({.command = Command::kRemove}, "10.0.0.1", kStart));
  EXPECT_FALSE(list.run(check, "10.0.0.1", kStart));
}

// The SSH rule: --set, then --update --seconds 60 --hitcount 5. The set
// records the current attempt, so the 5th attempt within 60 s matches.
TEST(RecentTable, HitcountWithinSecondsCountsTheCurrentHit) {
  List list;
  const RecentCheck update{.command = Command::kUpdate, .seconds = 60, .hit_count = 5};
  std::vector<int> dropped;
  for (int attempt = 1; attempt <= 7; ++attempt) {
    const Jiffies at = kStart + static_cast<Jiffies>(attempt) * kHz;
    list.run(kSet, "10.0.0.1", at);
    if (list.run(update, "10.0.0.1", at)) dropped.push_back(attempt);
  }
  EXPECT_EQ(dropped, (std::vector{5, 6, 7}));
}

TEST(RecentTable, StampsExactlySecondsOldStillCount) {
  List list;
  const RecentCheck check{.command = Command::kCheck, .seconds = 10};
  list.run(kSet, "10.0.0.1", kStart);
  EXPECT_TRUE(list.run(check, "10.0.0.1", kStart + 10 * kHz));
  EXPECT_FALSE(list.run(check, "10.0.0.1", kStart + 10 * kHz + 1));
}

TEST(RecentTable, UpdateRecordsOnlyWhenTheFinalResultIsTrue) {
  List list;
  list.run(kSet, "10.0.0.1", kStart);
  // A failing update (too old) records nothing: it stays too old.
  const RecentCheck update{.command = Command::kUpdate, .seconds = 1};
  EXPECT_FALSE(list.run(update, "10.0.0.1", kStart + 2 * kHz));
  EXPECT_FALSE(list.run(update, "10.0.0.1", kStart + 2 * kHz));
  // Inverted, the failing lookup is a true result: the hit is recorded, and
  // the next (uninverted) look finds it fresh.
  EXPECT_TRUE(list.run({.command = Command::kUpdate, .invert = true, .seconds = 1}, "10.0.0.1",
                       kStart + 3 * kHz));
  EXPECT_TRUE(list.run(update, "10.0.0.1", kStart + 3 * kHz));
}

TEST(RecentTable, AFullListEvictsTheLeastRecentlySeen) {
  List list;
  for (std::size_t i = 0; i < kRecentListSize; ++i) {
    list.run(kSet, ("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)).c_str(),
             kStart + i);
  }
  // 10.0.0.1 is the oldest; seeing it again makes 10.0.0.2 the oldest.
  list.run(kSet, "10.0.0.1", kStart + 1000);
  list.run(kSet, "10.9.9.9", kStart + 1001);
  EXPECT_EQ(list.table.size(), kRecentListSize);
  const RecentCheck check{.command = Command::kCheck};
  EXPECT_TRUE(list.run(check, "10.0.0.1", kStart + 1002));
  EXPECT_FALSE(list.run(check, "10.0.0.2", kStart + 1002));
  EXPECT_TRUE(list.run(check, "10.0.0.3", kStart + 1002));
  EXPECT_TRUE(list.run(check, "10.9.9.9", kStart + 1002));
}

TEST(RecentTable, TheRingKeepsThirtyTwoStampsOrTheHitcountRoundedUp) {
  EXPECT_EQ(recent_stamps_mask(0), 31U);
  EXPECT_EQ(recent_stamps_mask(5), 7U);
  EXPECT_EQ(recent_stamps_mask(33), 63U);
  List list;
  for (Jiffies i = 0; i < 40; ++i) list.run(kSet, "10.0.0.1", kStart + i);
  // 40 hits, but the ring remembers 32 of them.
  EXPECT_TRUE(list.run({.command = Command::kCheck, .hit_count = 32}, "10.0.0.1", kStart + 50));
  EXPECT_FALSE(list.run({.command = Command::kCheck, .hit_count = 33}, "10.0.0.1", kStart + 50));
  // That rule needs a 64-stamp ring: the list was widened, and emptied.
  EXPECT_EQ(list.table.size(), 0U);
}

TEST(RecentTable, RttlNeedsTheRecordedTtl) {
  List list;
  list.run(kSet, "10.0.0.1", kStart, 64);
  const RecentCheck check{.command = Command::kCheck, .same_ttl = true};
  EXPECT_TRUE(list.run(check, "10.0.0.1", kStart, 64));
  EXPECT_FALSE(list.run(check, "10.0.0.1", kStart, 63));
  EXPECT_TRUE(list.run({.command = Command::kCheck}, "10.0.0.1", kStart, 63));
}

TEST(RecentTable, ReapForgetsTheOldestEntryOnceStale) {
  List list;
  list.run(kSet, "10.0.0.1", kStart);
  list.run(kSet, "10.0.0.2", kStart + 5 * kHz);
  const RecentCheck reap{.command = Command::kCheck, .seconds = 3, .reap = true};
  // 10.0.0.1 is older than 3 s at the check of 10.0.0.2: it goes.
  EXPECT_TRUE(list.run(reap, "10.0.0.2", kStart + 6 * kHz));
  EXPECT_EQ(list.table.size(), 1U);
  EXPECT_FALSE(list.run({.command = Command::kCheck}, "10.0.0.1", kStart + 6 * kHz));
  // An update that matches keeps its own entry even when it is the oldest.
  const RecentCheck update{.command = Command::kUpdate, .seconds = 3, .reap = true};
  EXPECT_TRUE(list.run(update, "10.0.0.2", kStart + 8 * kHz));
  EXPECT_EQ(list.table.size(), 1U);
}

TEST(RecentTable, MaskGroupsAddressesAndTheFileListsThem) {
  std::array<std::uint8_t, 16> mask{};
  mask.fill(0xff);
  mask[3] = 0;
  RecentTable table(mask, recent_stamps_mask(0));
  table.evaluate(kSet, 31, ip("10.0.0.1"), 64, 500);
  table.evaluate(kSet, 31, ip("10.0.0.2"), 63, 510);
  EXPECT_EQ(table.text(), "src=10.0.0.0 ttl: 63 last_seen: 510 oldest_pkt: 2 500, 510\n");
  table.add(ip("2001:db8::1"), 520);
  EXPECT_EQ(table.size(), 2U);
  EXPECT_NE(table.text().find("src=2001:0db8:0000:0000:0000:0000:0000:0001 ttl: 0 last_seen: 520"),
            std::string::npos);
  EXPECT_TRUE(table.remove(ip("2001:db8::1")));
  EXPECT_FALSE(table.remove(ip("2001:db8::1")));
  table.flush();
  EXPECT_EQ(table.text(), "");
}

TEST(RecentMatch, TextAsIptablesPrintsIt) {
  const auto ssh = build(
      R"({"recent": {"update": true, "seconds": 60, "hitcount": 5, "name": "SSH"}})", "recent");
  EXPECT_EQ(listed(*ssh),
            "recent: UPDATE seconds: 60 hit_count: 5 name: SSH side: source mask: "
            "255.255.255.255");
  EXPECT_EQ(saved(*ssh),
            " -m recent --update --seconds 60 --hitcount 5 --name SSH --mask 255.255.255.255 "
            "--rsource");
  const auto knock = build(
      R"({"!recent": {"rcheck": true, "seconds": 60, "reap": true, "rttl": true, "name": "K1",
          "mask": "255.255.255.0", "side": "destination"}})",
      "!recent");
  EXPECT_EQ(listed(*knock),
            "! recent: CHECK seconds: 60 reap TTL-Match name: K1 side: dest mask: 255.255.255.0");
  EXPECT_EQ(saved(*knock),
            " -m recent ! --rcheck --seconds 60 --reap --rttl --name K1 --mask 255.255.255.0 "
            "--rdest");
  EXPECT_EQ(saved(*build(R"({"recent": {"remove": true}})", "recent")),
            " -m recent --remove --name DEFAULT --mask 255.255.255.255 --rsource");
}

TEST(RecentMatch, AnIpv6RuleShowsTheIpv6Mask) {
  SaveLine line;
  line.family = Family::kIPv6;
  build(R"({"recent": {"rcheck": true, "name": "X"}})", "recent")->save(line);
  EXPECT_EQ(line.matches,
            " -m recent --rcheck --name X --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
            "--rsource");
}

TEST(RecentMatch, RefusesWhatTheKernelRefuses) {
  EXPECT_NE(build_error(R"({"recent": {"name": "A"}})", "recent"), "built");
  EXPECT_NE(build_error(R"({"recent": {"set": true, "rcheck": true}})", "recent"), "built");
  EXPECT_NE(build_error(R"({"recent": {"set": true, "seconds": 5}})", "recent"), "built");
  EXPECT_NE(build_error(R"({"recent": {"rcheck": true, "reap": true}})", "recent"), "built");
  EXPECT_NE(build_error(R"({"recent": {"rcheck": true, "hitcount": 65536}})", "recent"), "built");
  EXPECT_NE(build_error(R"({"recent": {"set": true, "name": ""}})", "recent"), "built");
  EXPECT_EQ(build_error(R"({"recent": {"rcheck": true, "seconds": 5, "reap": true}})", "recent"),
            "built");
}

}  // namespace
}  // namespace verdictd
