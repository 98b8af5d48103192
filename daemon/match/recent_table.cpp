#include "match/recent_table.hpp"

#include <bit>
#include <cstdio>
#include <functional>
#include <string_view>

namespace verdictd {

namespace {

constexpr std::uint32_t kDefaultStamps = 32;

// %pI6 as the kernel's file prints it: eight groups of four hex digits.
std::string full_text(const IpAddress& address) {
  if (address.family == Family::kIPv4) return address.to_string();
  std::string text;
  for (std::size_t group = 0; group < 8; ++group) {
    std::array<char, 6> digits{};
    std::snprintf(digits.data(), digits.size(), "%s%02x%02x", group == 0 ? "" : ":",
                  address.bytes[2 * group], address.bytes[2 * group + 1]);
    text += digits.data();
  }
  return text;
}

}  // namespace

// With ip_pkt_list_tot 0 (its default), the ring holds the rule's hitcount
// rounded up to a power of two, or 32 stamps.
std::uint32_t recent_stamps_mask(std::uint32_t hit_count) {
  return (hit_count == 0 ? kDefaultStamps : std::bit_ceil(hit_count)) - 1;
}

std::size_t RecentTable::AddressHash::operator()(const IpAddress& address) const {
  const std::string_view bytes(reinterpret_cast<const char*>(address.bytes.data()),
                               address.bytes.size());
  return std::hash<std::string_view>{}(bytes) ^ static_cast<std::size_t>(address.family);
}

RecentTable::RecentTable(const std::array<std::uint8_t, 16>& mask, std::uint32_t stamps_mask,
                         std::size_t capacity)
    : mask_(mask), capacity_(capacity), stamps_mask_(stamps_mask) {}

IpAddress RecentTable::masked(IpAddress address) const {
  for (std::size_t i = 0; i < address.bytes.size(); ++i) address.bytes[i] &= mask_[i];
  return address;
}

// recent_entry_lookup: the address's entry, when its TTL agrees (either
// side's 0 agrees with any).
RecentTable::Lru::iterator RecentTable::lookup(const IpAddress& address, std::uint8_t ttl) {
  const auto found = by_address_.find(address);
  if (found == by_address_.end()) return lru_.end();
  const Entry& entry = *found->second;
  if (ttl != 0 && entry.ttl != 0 && ttl != entry.ttl) return lru_.end();
  return found->second;
}

// recent_entry_init: a full list first forgets its least recently seen entry.
void RecentTable::insert(const IpAddress& address, std::uint8_t ttl, Jiffies now) {
  if (lru_.size() >= capacity_) erase(lru_.begin());
  Entry entry{.address = address,
              .ttl = ttl,
              .index = 1,
              .stamps = 1,
              .ring = std::vector<Jiffies>(stamps_mask_ + 1, 0)};
  entry.ring[0] = now;
  lru_.push_back(std::move(entry));
  by_address_[address] = std::prev(lru_.end());
}

// recent_entry_update: one more stamp in the ring, and the entry becomes the
// most recently seen.
void RecentTable::touch(Lru::iterator entry, Jiffies now) {
  entry->index &= stamps_mask_;
  entry->ring[entry->index++] = now;
  entry->stamps = std::max(entry->stamps, entry->index);
  lru_.splice(lru_.end(), lru_, entry);
}

void RecentTable::erase(Lru::iterator entry) {
  by_address_.erase(entry->address);
  lru_.erase(entry);
}

// recent_entry_reap: only the least recently seen entry is looked at, and
// it goes when its latest stamp is older than the horizon, unless it is the
// entry this packet is about to update.
void RecentTable::reap(Jiffies horizon, Lru::iterator working, bool updating) {
  if (lru_.empty()) return;
  const auto oldest = lru_.begin();
  if (oldest == working && updating) return;
  if (time_after(horizon, oldest->ring[oldest->index - 1])) erase(oldest);
}

bool RecentTable::evaluate(const RecentCheck& check, std::uint32_t stamps_mask,
                           const IpAddress& address, std::uint8_t ttl, Jiffies now) {
  using Command = RecentCheck::Command;
  const std::lock_guard lock(mutex_);
  // recent_mt_check widens the rings of a list a rule needs more of, and
  // forgets its entries then; here at the rule's first packet.
  if (stamps_mask > stamps_mask_) {
    lru_.clear();
    by_address_.clear();
    stamps_mask_ = stamps_mask;
  }
  const IpAddress key = masked(address);
  bool result = check.invert;
  const auto entry = lookup(key, check.same_ttl ? ttl : 0);
  if (entry == lru_.end()) {
    if (check.command != Command::kSet) return result;
    insert(key, ttl, now);
    return !result;
  }
  if (check.command == Command::kSet) {
    result = !result;
  } else if (check.command == Command::kRemove) {
    erase(entry);
    return !result;
  } else {
    // A stamp exactly `seconds` old still counts (time_after, not before).
    const Jiffies horizon = now - check.seconds * kHz;
    std::uint32_t hits = 0;
    for (std::uint32_t i = 0; i < entry->stamps; ++i) {
      if (check.seconds != 0 && time_after(horizon, entry->ring[i])) continue;
      if (check.hit_count == 0 || ++hits >= check.hit_count) {
        result = !result;
        break;
      }
    }
    if (check.reap) reap(horizon, entry, check.command == Command::kUpdate && result);
  }
  if (check.command == Command::kSet || (check.command == Command::kUpdate && result)) {
    touch(entry, now);
    entry->ttl = ttl;
  }
  return result;
}

void RecentTable::add(const IpAddress& address, Jiffies now) {
  const std::lock_guard lock(mutex_);
  const auto entry = lookup(address, 0);
  if (entry == lru_.end()) {
    insert(address, 0, now);
  } else {
    touch(entry, now);
  }
}

bool RecentTable::remove(const IpAddress& address) {
  const std::lock_guard lock(mutex_);
  const auto entry = lookup(address, 0);
  if (entry == lru_.end()) return false;
  erase(entry);
  return true;
}

void RecentTable::flush() {
  const std::lock_guard lock(mutex_);
  lru_.clear();
  by_address_.clear();
}

std::size_t RecentTable::size() const {
  const std::lock_guard lock(mutex_);
  return lru_.size();
}

// recent_seq_show: "src=10.0.0.1 ttl: 64 last_seen: 4295 oldest_pkt: 2 4290, 4295"
// (oldest_pkt is the ring's next slot, as the kernel prints it).
std::string RecentTable::text() const {
  const std::lock_guard lock(mutex_);
  std::string text;
  for (const Entry& entry : lru_) {
    text += "src=" + full_text(entry.address) + " ttl: " + std::to_string(entry.ttl) +
            " last_seen: " + std::to_string(entry.ring[(entry.index - 1) & stamps_mask_]) +
            " oldest_pkt: " + std::to_string(entry.index);
    for (std::uint32_t i = 0; i < entry.stamps; ++i) {
      text += (i == 0 ? " " : ", ") + std::to_string(entry.ring[i]);
    }
    text += "\n";
  }
  return text;
}

}  // namespace verdictd
