// A million-entry hash:net block list with mixed prefixes, in-process
// (issue 12's goals: a lookup within 100 ns, the load within 1 s):
//   SetLoad: `ipset save` text of the list read into a set, the loader's
//     path for a set file in ipset format (the text is built beforehand).
//   SetLookupHits and SetLookupRandom: IpSet::test for the packet's source,
//     as the set match calls it (the shared lock and the direct index), for
//     addresses inside the list and for random ones (mostly outside);
//     SetLookupHitsUpTo24 and SetLookupHitsLonger split the hits by the
//     length of the element that decides them.
// Memory latency on a virtual machine varies from run to run (by half on
// the 2-core VM these figures were taken on): compare medians, e.g.
//   set_lookup --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// The list: 45% /32, 30% /24, 10% /25-/31, about 15% /16-/23 and 0.1%
// /8-/15 (each /16 start once at most), at random addresses: every address
// has several prefix lengths near it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "set/ip_set.hpp"
#include "set/ipset_text.hpp"

namespace verdictd {
namespace {

constexpr std::size_t kEntries = 1'000'000;

std::uint8_t mixed_length(std::mt19937& random) {
  const unsigned roll = random() % 100;
  if (roll < 45) return 32;
  if (roll < 75) return 24;
  if (roll < 85) return static_cast<std::uint8_t>(25 + random() % 7);
  if (roll < 99 || random() % 10 != 0) return static_cast<std::uint8_t>(16 + random() % 8);
  return static_cast<std::uint8_t>(8 + random() % 8);
}

std::string address_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

struct BlockList {
  std::string text;                   // ipset save text
  std::vector<std::uint32_t> inside;  // one address of each element
  std::vector<std::uint8_t> lengths;  // its prefix length
};

const BlockList& block_list() {
  static const BlockList list = [] {
    BlockList out;
    std::mt19937 random(12);
    out.text = "create blk hash:net family inet hashsize 1048576 maxelem 2000000\n";
    out.text.reserve(kEntries * 24);
    std::vector<bool> seen_short(1U << 16);
    std::unordered_set<std::uint64_t> seen;  // no element twice: ipset restore refuses that
    std::size_t added = 0;
    while (added < kEntries) {
      const std::uint8_t length = mixed_length(random);
      const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
      const std::uint32_t base = static_cast<std::uint32_t>(random()) & mask;
      // Short prefixes are few: each /8-/15 once per /16 start at most.
      if (length < 16) {
        if (seen_short[base >> 16]) continue;
        seen_short[base >> 16] = true;
      }
      if (!seen.insert((std::uint64_t{base} << 8) | length).second) continue;
      out.text += "add blk " + address_text(base) + "/" + std::to_string(length) + "\n";
      out.inside.push_back(base | (static_cast<std::uint32_t>(random()) & ~mask));
      out.lengths.push_back(length);
      ++added;
    }
    return out;
  }();
  return list;
}

const IpSet& loaded() {
  static const std::unique_ptr<IpSet> set = [] {
    try {
      return read_ipset_text(block_list().text, "bench", "blk");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      std::abort();
    }
  }();
  return *set;
}

void SetLoad(benchmark::State& state) {
  const BlockList& list = block_list();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<IpSet> set = read_ipset_text(list.text, "bench", "blk");
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(took.count());
    state.counters["elements"] = static_cast<double>(set->size(0));
    benchmark::DoNotOptimize(set);
  }
}
BENCHMARK(SetLoad)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

void lookups(benchmark::State& state, const std::vector<std::uint32_t>& addresses) {
  const IpSet& set = loaded();
  const CounterCondition counters;
  std::size_t i = 0;
  std::size_t matched = 0;
  for (auto _ : state) {
    SetKey key{};
    key[0] = addresses[i];
    i = i + 1 == addresses.size() ? 0 : i + 1;
    matched += set.test(key, 0, counters, 60) == SetTest::kMatch ? 1 : 0;
  }
  state.counters["matched"] =
      benchmark::Counter(static_cast<double>(matched), benchmark::Counter::kAvgIterations);
}

void SetLookupHits(benchmark::State& state) {
  std::vector<std::uint32_t> addresses = block_list().inside;
  std::shuffle(addresses.begin(), addresses.end(), std::mt19937(3));
  lookups(state, addresses);
}
BENCHMARK(SetLookupHits);

void SetLookupRandom(benchmark::State& state) {
  std::vector<std::uint32_t> addresses(kEntries);
  std::mt19937 random(5);
  for (std::uint32_t& a : addresses) a = static_cast<std::uint32_t>(random());
  lookups(state, addresses);
}
BENCHMARK(SetLookupRandom);

// The hits split by what decides them: an element of /24 or shorter (the
// /24's slot alone), or a longer one (the slot and its cut /24's chunk).
void hits_of_lengths(benchmark::State& state, bool longer_than_24) {
  const BlockList& list = block_list();
  std::vector<std::uint32_t> addresses;
  for (std::size_t i = 0; i < list.inside.size(); ++i) {
    if ((list.lengths[i] > 24) == longer_than_24) addresses.push_back(list.inside[i]);
  }
  std::shuffle(addresses.begin(), addresses.end(), std::mt19937(3));
  lookups(state, addresses);
}

void SetLookupHitsUpTo24(benchmark::State& state) { hits_of_lengths(state, false); }
BENCHMARK(SetLookupHitsUpTo24);

void SetLookupHitsLonger(benchmark::State& state) { hits_of_lengths(state, true); }
BENCHMARK(SetLookupHitsLonger);

}  // namespace
}  // namespace verdictd

BENCHMARK_MAIN();
