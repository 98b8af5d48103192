// The direct index of large IPv4 hash:net sets (set/direct_index.hpp) against
// the per-length probes it replaces: two sets take the same random adds,
// replacements and deletes of overlapping prefixes (nomatch ones, timeouts
// that expire, counters with conditions), one with the index from its first
// element, one without; every lookup must give the same answer, and the
// counters must end the same (the same elements counted the same packets).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "set/ip_set.hpp"

namespace verdictd {
namespace {

constexpr SetTime kStart = 1'000'000;

std::string address_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xffU) + "." +
         std::to_string((a >> 8) & 0xffU) + "." + std::to_string(a & 0xffU);
}

SetOptions net_options(std::uint32_t direct_index_from) {
  SetOptions o;
  o.type = find_set_type("hash:net");
  o.timeout = 0;
  o.counters = true;
  o.maxelem = 1'000'000;
  o.direct_index_from = direct_index_from;
  return o;
}

// Addresses in 10.0.0.0/14 mostly, so the prefixes nest and cut /24s up.
std::uint32_t near_address(std::mt19937& random) {
  if (random() % 10 == 0) return static_cast<std::uint32_t>(random());
  return 0x0a000000U | (static_cast<std::uint32_t>(random()) & 0x0003ffffU);
}

std::uint8_t mixed_length(std::mt19937& random) {
  const unsigned roll = random() % 10;
  if (roll < 4) return 32;
  if (roll < 6) return static_cast<std::uint8_t>(25 + random() % 7);
  if (roll < 8) return static_cast<std::uint8_t>(17 + random() % 8);
  return static_cast<std::uint8_t>(1 + random() % 16);  // ipset refuses /0
}

std::string element_text(std::mt19937& random) {
  const std::uint8_t length = mixed_length(random);
  const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
  std::string text = address_text(near_address(random) & mask) + "/" + std::to_string(length);
  if (random() % 5 == 0) text += " nomatch";
  if (random() % 3 == 0) text += " timeout " + std::to_string(1 + random() % 20);
  return text;
}

std::vector<std::string> listed(const IpSet& set, SetTime now) {
  std::vector<std::string> out;
  for (const ListedElement& e : set.list(now)) {
    out.push_back(e.text + (e.nomatch ? " nomatch " : " ") + std::to_string(*e.packets) + " " +
                  std::to_string(*e.bytes));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DirectIndex, AgreesWithThePerLengthProbesUnderRandomAddsAndDeletes) {
  IpSet direct("d", net_options(0));
  IpSet probed("p", net_options(std::numeric_limits<std::uint32_t>::max()));
  std::mt19937 random(12);
  std::vector<std::string> added;
  CounterCondition below;  // falls through to shorter prefixes once counted twice
  below.packets_op = CounterCondition::Op::kLt;
  below.packets = 3;
  std::size_t decided = 0;
  for (int round = 0; round < 40; ++round) {
    const SetTime now = kStart + SetTime{round} * 1'000;
    for (int i = 0; i < 300; ++i) {
      const std::string text = element_text(random);
      const bool exist = random() % 4 == 0;  // replaces: a new nomatch, timeout
      const auto expected = probed.add(probed.codec().parse(text), exist, now);
      ASSERT_EQ(direct.add(direct.codec().parse(text), exist, now), expected) << text;
      if (expected == IpSet::AddResult::kAdded) added.push_back(text.substr(0, text.find(' ')));
    }
    for (int i = 0; i < 150 && !added.empty(); ++i) {
      const std::size_t at = random() % added.size();
      const SetElement gone = probed.codec().parse(added[at]);
      const bool expected = probed.del(gone, now);
      ASSERT_EQ(direct.del(gone, now), expected) << added[at];
      added[at] = added.back();
      added.pop_back();
    }
    for (int i = 0; i < 3000; ++i) {
      SetKey key{};
      key[0] = near_address(random);
      const SetTime at = now + static_cast<SetTime>(random() % 15'000);
      const CounterCondition& counters = random() % 2 == 0 ? below : CounterCondition{};
      const SetTest expected = probed.test(key, at, counters, 60);
      ASSERT_EQ(direct.test(key, at, counters, 60), expected)
          << address_text(static_cast<std::uint32_t>(key[0])) << " round " << round;
      SetElement host{};
      host.key = key;
      host.cidr = 32;
      ASSERT_EQ(direct.test_element(host, at), probed.test_element(host, at));
      decided += expected == SetTest::kAbsent ? 0 : 1;
    }
  }
  EXPECT_GT(decided, 10'000U);  // the lookups found elements, not only misses
  const SetTime end = kStart + 40'000;
  EXPECT_EQ(listed(direct, end), listed(probed, end));
  // A clone (the live copy of a loaded set) carries the index along.
  const std::unique_ptr<IpSet> copy = direct.clone();
  for (int i = 0; i < 3000; ++i) {
    SetKey key{};
    key[0] = near_address(random);
    SetElement host{};
    host.key = key;
    host.cidr = 32;
    ASSERT_EQ(copy->test_element(host, end), probed.test_element(host, end));
  }
}

}  // namespace
}  // namespace verdictd
