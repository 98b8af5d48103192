#include "match/hashlimit_table.hpp"

#include <algorithm>
#include <functional>
#include <string_view>

#include "match/prefix_mask.hpp"

namespace verdictd {

namespace {

constexpr std::uint64_t kSecondsPerDay = std::uint64_t{60} * 60 * 24;
constexpr unsigned kByteShift = 4;  // XT_HASHLIMIT_BYTE_SHIFT: costs per 16 bytes

constexpr std::uint64_t power_of_two_at_most(std::uint64_t value) {
  std::uint64_t power = 1;
  while (power <= value / 2) power *= 2;
  return power;
}

// CREDITS_PER_JIFFY (64-bit, 2^39 at HZ 250) and CREDITS_PER_JIFFY_BYTES (2^24).
constexpr std::uint64_t kCreditsPerJiffy =
    power_of_two_at_most(~std::uint64_t{0} / (kHz * kSecondsPerDay));
constexpr std::uint64_t kByteCreditsPerJiffy = power_of_two_at_most(0xffffffffU / kHz);
constexpr std::uint64_t kByteCreditsFull = kByteCreditsPerJiffy * kHz;

// user2credits for revision 2 and later: the constant factor divided first
// (at HZ 250 a jiffy's credits outweigh the scale).
static_assert(kHz * kCreditsPerJiffy >= kHashlimitScale);
constexpr std::uint64_t user_to_credits(std::uint64_t user) {
  return user * (kHz * kCreditsPerJiffy / kHashlimitScale);
}

// user2credits_byte.
constexpr std::uint64_t byte_cost_credits(std::uint64_t cost) {
  return static_cast<std::uint32_t>((cost * kByteCreditsFull) >> 32U);
}

Jiffies milliseconds_to_jiffies(std::uint32_t ms) { return (Jiffies{ms} * kHz + 999) / 1000; }

}  // namespace

std::optional<HashlimitCredits> hashlimit_credits(const HashlimitConfig& config) {
  if (config.bytes) {
    const std::uint64_t cost = byte_cost_credits(config.average);
    if (cost == 0) return std::nullopt;
    return HashlimitCredits{.credit = kByteCreditsFull, .cap = config.burst, .cost = cost};
  }
  // The product wraps in 64 bits as the kernel's does; the check catches it.
  const std::uint64_t full = user_to_credits(config.average * config.burst);
  const std::uint64_t cost = user_to_credits(config.average);
  if (config.burst == 0 || full < cost) return std::nullopt;
  return HashlimitCredits{.credit = full, .cap = full, .cost = cost};
}

HashlimitKey hashlimit_key(const HashlimitConfig& config, Family family, const IpAddress& source,
                           const IpAddress& destination, std::uint16_t source_port,
                           std::uint16_t destination_port) {
  HashlimitKey key{.family = family};
  if ((config.mode & kHashSourceIp) != 0) {
    key.source = masked(source, config.source_bits).bytes;
  }
  if ((config.mode & kHashDestinationIp) != 0) {
    key.destination = masked(destination, config.destination_bits).bytes;
  }
  if ((config.mode & kHashSourcePort) != 0) key.source_port = source_port;
  if ((config.mode & kHashDestinationPort) != 0) key.destination_port = destination_port;
  return key;
}

std::size_t HashlimitTable::KeyHash::operator()(const HashlimitKey& key) const {
  std::array<char, 37> bytes{};
  std::copy(key.source.begin(), key.source.end(), bytes.begin());
  std::copy(key.destination.begin(), key.destination.end(), bytes.begin() + 16);
  bytes[32] = static_cast<char>(key.source_port >> 8U);
  bytes[33] = static_cast<char>(key.source_port);
  bytes[34] = static_cast<char>(key.destination_port >> 8U);
  bytes[35] = static_cast<char>(key.destination_port);
  bytes[36] = static_cast<char>(key.family);
  return std::hash<std::string_view>{}(std::string_view(bytes.data(), bytes.size()));
}

HashlimitTable::HashlimitTable(const HashlimitConfig& config, Jiffies now)
    : config_(config),
      fresh_(hashlimit_credits(config).value_or(HashlimitCredits{})),
      expire_jiffies_(milliseconds_to_jiffies(config.expire_ms)),
      gc_jiffies_(milliseconds_to_jiffies(config.gc_interval_ms)),
      next_gc_(now + gc_jiffies_) {}

// rateinfo_recalc: credits for the jiffies since the bucket last changed,
// up to its cap (byte mode: one second's worth).
void HashlimitTable::recalc(Bucket& bucket, Jiffies now) const {
  const Jiffies delta = now - bucket.prev;
  if (delta == 0) return;
  bucket.prev = now;
  HashlimitCredits& credits = bucket.credits;
  std::uint64_t cap = credits.cap;
  if (config_.bytes) {
    const std::uint64_t before = credits.credit;
    credits.credit += kByteCreditsPerJiffy * delta;
    cap = kByteCreditsFull;
    if (before >= credits.credit) {  // wrapped
      credits.credit = cap;
      return;
    }
  } else {
    credits.credit += delta * kCreditsPerJiffy;
  }
  credits.credit = std::min(credits.credit, cap);
}

// hashlimit_byte_cost: the packet's 16-byte chunks at the cost of one; a
// bucket short of it spends one of its refills, while it has some.
std::uint64_t HashlimitTable::byte_cost(Bucket& bucket, std::uint32_t length) const {
  const std::uint64_t cost =
      std::min(((std::uint64_t{length} >> kByteShift) + 1) * bucket.credits.cost, kByteCreditsFull);
  if (bucket.credits.credit < cost && bucket.credits.cap > 0) {
    --bucket.credits.cap;
    bucket.credits.credit = kByteCreditsFull;
  }
  return cost;
}

std::optional<bool> HashlimitTable::take(const HashlimitKey& key, std::uint32_t length,
                                         Jiffies now) {
  Jiffies due = next_gc_.load(std::memory_order_relaxed);
  if (time_after(now, due) || now == due) {
    if (next_gc_.compare_exchange_strong(due, now + gc_jiffies_)) collect(now);
  }
  Shard& shard = shards_[KeyHash{}(key) % kShards];
  const std::lock_guard lock(shard.mutex);
  auto found = shard.buckets.find(key);
  if (found == shard.buckets.end()) {
    // dsthash_alloc_init: a full table takes no new key.
    if (config_.max != 0 && count_.load(std::memory_order_relaxed) >= config_.max) {
      return std::nullopt;
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    found = shard.buckets.emplace(key, Bucket{.prev = now, .credits = fresh_}).first;
  } else {
    recalc(found->second, now);
  }
  Bucket& bucket = found->second;
  bucket.expires = now + expire_jiffies_;
  const std::uint64_t cost = config_.bytes ? byte_cost(bucket, length) : bucket.credits.cost;
  if (bucket.credits.credit < cost) return false;
  bucket.credits.credit -= cost;
  return true;
}

void HashlimitTable::collect(Jiffies now) {
  for (Shard& shard : shards_) {
    const std::lock_guard lock(shard.mutex);
    const std::size_t erased = std::erase_if(shard.buckets, [now](const auto& entry) {
      return time_after(now, entry.second.expires) || now == entry.second.expires;
    });
    count_.fetch_sub(erased, std::memory_order_relaxed);
  }
}

}  // namespace verdictd
