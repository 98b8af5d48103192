// The cost per packet of the stateful rate matches, in-process (Google
// Benchmark): a hashlimit table holding 100,000 keys (one per source address
// and port, looked up round robin, each packet taking from its key's bucket),
// and a recent list of 10,000 entries (the SSH rule's --update --seconds 60
// --hitcount 5 on addresses in the list, and --set of new addresses, each
// evicting the least recently seen). Time is ns per packet.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <vector>

#include "match/hashlimit_table.hpp"
#include "match/recent_table.hpp"

namespace verdictd {
namespace {

constexpr std::size_t kHashlimitKeys = 100000;
constexpr std::size_t kRecentEntries = 10000;

IpAddress address_number(std::uint32_t n) {
  const std::array<std::uint8_t, 4> bytes = {10, static_cast<std::uint8_t>(n >> 16U),
                                             static_cast<std::uint8_t>(n >> 8U),
                                             static_cast<std::uint8_t>(n)};
  return IpAddress::from_v4(bytes.data());
}

void hashlimit_keys(benchmark::State& state) {
  const HashlimitConfig config{.mode = kHashSourceIp | kHashSourcePort,
                               .average = 1000,  // 1000/second
                               .burst = 5,
                               .max = 2 * kHashlimitKeys,
                               .expire_ms = 3600000,
                               .gc_interval_ms = 1000};
  HashlimitTable table(config, jiffies_now());
  std::vector<IpAddress> sources;
  for (std::uint32_t i = 0; i < kHashlimitKeys; ++i) sources.push_back(address_number(i));
  const IpAddress destination = address_number(0xffffff);
  for (std::uint32_t i = 0; i < kHashlimitKeys; ++i) {
    table.take(hashlimit_key(config, Family::kIPv4, sources[i], destination, 1024, 80), 100,
               jiffies_now());
  }
  std::size_t next = 0;
  for (auto _ : state) {
    const HashlimitKey key =
        hashlimit_key(config, Family::kIPv4, sources[next], destination, 1024, 80);
    benchmark::DoNotOptimize(table.take(key, 100, jiffies_now()));
    next = next + 1 == kHashlimitKeys ? 0 : next + 1;
  }
  state.counters["keys"] = static_cast<double>(table.size());
}
BENCHMARK(hashlimit_keys);

std::array<std::uint8_t, 16> all_ones() {
  std::array<std::uint8_t, 16> mask{};
  mask.fill(0xff);
  return mask;
}

// The list's 10,000 entries, one per address, least recently seen first.
void fill(RecentTable& list, std::vector<IpAddress>& addresses) {
  const RecentCheck set{.command = RecentCheck::Command::kSet};
  for (std::uint32_t i = 0; i < kRecentEntries; ++i) {
    addresses.push_back(address_number(i));
    list.evaluate(set, recent_stamps_mask(0), addresses.back(), 64, jiffies_now());
  }
}

void recent_update(benchmark::State& state) {
  std::vector<IpAddress> addresses;
  RecentTable list(all_ones(), recent_stamps_mask(0), kRecentEntries);
  fill(list, addresses);
  const RecentCheck update{.command = RecentCheck::Command::kUpdate, .seconds = 60, .hit_count = 5};
  const std::uint32_t stamps = recent_stamps_mask(update.hit_count);
  std::size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(list.evaluate(update, stamps, addresses[next], 64, jiffies_now()));
    next = next + 1 == kRecentEntries ? 0 : next + 1;
  }
  state.counters["entries"] = static_cast<double>(list.size());
}
BENCHMARK(recent_update);

void recent_set_evicting(benchmark::State& state) {
  std::vector<IpAddress> addresses;
  RecentTable list(all_ones(), recent_stamps_mask(0), kRecentEntries);
  fill(list, addresses);
  const RecentCheck set{.command = RecentCheck::Command::kSet};
  std::uint32_t next = kRecentEntries;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        list.evaluate(set, recent_stamps_mask(0), address_number(next++), 64, jiffies_now()));
  }
  state.counters["entries"] = static_cast<double>(list.size());
}
BENCHMARK(recent_set_evicting);

}  // namespace
}  // namespace verdictd

BENCHMARK_MAIN();
