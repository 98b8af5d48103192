// One xt_recent list: the addresses rules have recorded, each with a ring of
// the jiffies it was seen at, shared by every rule (and `verdictctl recent`)
// naming it and kept across reloads by name. Its order of operations, its
// eviction of the least recently seen entry when full and its ring follow
// net/netfilter/xt_recent.c.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "extension/extension_state.hpp"
#include "match/jiffies.hpp"
#include "packet/address.hpp"

namespace verdictd {

// The kind of the lists' named state (StateName), for the rules and
// `verdictctl recent` alike.
inline constexpr std::string_view kRecentStateKind = "recent";

// The kernel's ip_list_tot on the kernels verdictd runs beside (a module
// parameter, 100 by default).
inline constexpr std::size_t kRecentListSize = 100;

// What one rule does with the list (xt_recent_mtinfo_v1).
struct RecentCheck {
  enum class Command : std::uint8_t { kSet, kCheck, kUpdate, kRemove };
  Command command = Command::kSet;
  bool invert = false;
  std::uint32_t seconds = 0;    // 0: any age
  std::uint32_t hit_count = 0;  // 0: one hit is enough
  bool reap = false;            // forget the oldest entry once it is older than `seconds`
  bool same_ttl = false;        // --rttl: the entry's TTL must be the packet's
};

// The ring size a rule needs, less one (recent_mt_check's nstamp_mask).
std::uint32_t recent_stamps_mask(std::uint32_t hit_count);

class RecentTable final : public ExtensionState {
 public:
  // `mask`: applied to each address the rules look up (the first rule's
  // --mask, as the kernel keeps the creating rule's); `capacity`: entries at
  // most (ip_list_tot).
  RecentTable(const std::array<std::uint8_t, 16>& mask, std::uint32_t stamps_mask,
              std::size_t capacity = kRecentListSize);

  // recent_mt for `address` (the packet's source or destination), `ttl`
  // as the rule sees it, at `now`; `stamps_mask` is the rule's
  // recent_stamps_mask. The result has the rule's `!` applied.
  bool evaluate(const RecentCheck& check, std::uint32_t stamps_mask, const IpAddress& address,
                std::uint8_t ttl, Jiffies now);

  // As a write to /proc/net/xt_recent/NAME: "+address" records it (a new
  // entry with TTL 0, or one more hit), "-address" forgets it (false when
  // absent), "/" forgets all. Unmasked, as the kernel writes them.
  void add(const IpAddress& address, Jiffies now);
  bool remove(const IpAddress& address);
  void flush();

  // The kernel's /proc/net/xt_recent/NAME lines, least recently seen first.
  [[nodiscard]] std::string text() const;
  [[nodiscard]] std::size_t size() const;

 private:
  struct Entry {
    IpAddress address;
    std::uint8_t ttl = 0;
    std::uint32_t index = 0;    // the ring slot after the latest stamp
    std::uint32_t stamps = 0;   // slots filled
    std::vector<Jiffies> ring;  // stamps_mask_ + 1 slots
  };
  using Lru = std::list<Entry>;  // least recently seen first
  struct AddressHash {
    std::size_t operator()(const IpAddress& address) const;
  };

  Lru::iterator lookup(const IpAddress& address, std::uint8_t ttl);
  void insert(const IpAddress& address, std::uint8_t ttl, Jiffies now);
  void touch(Lru::iterator entry, Jiffies now);
  void erase(Lru::iterator entry);
  void reap(Jiffies horizon, Lru::iterator working, bool updating);
  [[nodiscard]] IpAddress masked(IpAddress address) const;

  const std::array<std::uint8_t, 16> mask_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;  // The kernel's recent_lock, per list; a leaf lock.
  std::uint32_t stamps_mask_;
  Lru lru_;
  std::unordered_map<IpAddress, Lru::iterator, AddressHash> by_address_;
};

}  // namespace verdictd
