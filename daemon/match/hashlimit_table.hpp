// One xt_hashlimit table: a token bucket per key (the packet's addresses
// and ports, as the table's mode picks and masks them), each full when its
// key is first seen, forgotten once idle for the table's expiry. Its credit
// arithmetic is the kernel's (revision 2 and later: 64-bit credits, rates
// in millionths of a second; byte rates in 16-byte chunks), so the same
// packets at the same jiffies get the same answers. Shared by every rule
// naming it and kept across reloads by name.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "extension/extension_state.hpp"
#include "match/jiffies.hpp"
#include "packet/address.hpp"

namespace verdictd {

// Packet rates are periods in 1/kHashlimitScale seconds (XT_HASHLIMIT_SCALE_v2).
inline constexpr std::uint64_t kHashlimitScale = 1000000;

// What the key is made of (XT_HASHLIMIT_HASH_*).
enum HashlimitMode : std::uint8_t {
  kHashDestinationIp = 1U << 0,
  kHashDestinationPort = 1U << 1,
  kHashSourceIp = 1U << 2,
  kHashSourcePort = 1U << 3,
};

// The table's configuration, from the rule that created it (as the kernel
// keeps the first rule's hashlimit_cfg3 for a name).
struct HashlimitConfig {
  std::uint8_t mode = 0;       // HashlimitMode bits
  bool bytes = false;          // `average` is a byte cost, `burst` a refill count
  std::uint64_t average = 0;   // packet period in 1/kHashlimitScale s, or byte cost
  std::uint64_t burst = 0;     // packets, or in byte mode full refills
  int source_bits = 128;       // prefix kept of the source (IPv4 uses up to 32)
  int destination_bits = 128;  // of the destination
  std::uint32_t max = 0;       // entries at most
  std::uint32_t expire_ms = 0;
  std::uint32_t gc_interval_ms = 0;
};

// A bucket's credits as rateinfo_init sets them: nullopt for a rate and
// burst the kernel refuses (credits that overflow, a burst of 0, a byte
// rate too fast to cost anything).
struct HashlimitCredits {
  std::uint64_t credit = 0;
  std::uint64_t cap = 0;  // byte mode: refills left
  std::uint64_t cost = 0;
};
std::optional<HashlimitCredits> hashlimit_credits(const HashlimitConfig& config);

struct HashlimitKey {
  Family family = Family::kIPv4;
  std::array<std::uint8_t, 16> source{};
  std::array<std::uint8_t, 16> destination{};
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  friend bool operator==(const HashlimitKey&, const HashlimitKey&) = default;
};

// The key of a packet under `config` (hashlimit_init_dst): the parts the
// mode names, addresses masked; ports 0 for a protocol without them.
HashlimitKey hashlimit_key(const HashlimitConfig& config, Family family, const IpAddress& source,
                           const IpAddress& destination, std::uint16_t source_port,
                           std::uint16_t destination_port);

class HashlimitTable final : public ExtensionState {
 public:
  HashlimitTable(const HashlimitConfig& config, Jiffies now);

  // hashlimit_mt_common without the `!`: true when the key's bucket had the
  // packet's cost (taken then); nullopt when the key is new and the table is
  // full (the kernel drops the packet). `length`: skb->len, for byte rates.
  std::optional<bool> take(const HashlimitKey& key, std::uint32_t length, Jiffies now);

  [[nodiscard]] std::size_t size() const { return count_.load(std::memory_order_relaxed); }
  [[nodiscard]] const HashlimitConfig& config() const { return config_; }

 private:
  struct Bucket {
    Jiffies prev = 0;
    Jiffies expires = 0;
    HashlimitCredits credits;
  };
  struct KeyHash {
    std::size_t operator()(const HashlimitKey& key) const;
  };
  // Lock order: a thread holds at most one shard's mutex at a time (the
  // collector too, taking them one after another); all are leaves
  // (daemon/LOCKING.md). The entry count and the collector's turn are atomics.
  struct Shard {
    std::mutex mutex;
    std::unordered_map<HashlimitKey, Bucket, KeyHash> buckets;
  };
  static constexpr std::size_t kShards = 64;

  void recalc(Bucket& bucket, Jiffies now) const;
  [[nodiscard]] std::uint64_t byte_cost(Bucket& bucket, std::uint32_t length) const;
  // htable_gc: forgets the buckets whose expiry has come, once per interval.
  void collect(Jiffies now);

  const HashlimitConfig config_;
  const HashlimitCredits fresh_;
  const Jiffies expire_jiffies_;
  const Jiffies gc_jiffies_;
  std::atomic<Jiffies> next_gc_;
  std::atomic<std::size_t> count_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace verdictd
