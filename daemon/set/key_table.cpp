#include "set/key_table.hpp"

#include <algorithm>
#include <bit>

namespace verdictd {

namespace {

constexpr std::size_t kMinCapacity = 8;

}  // namespace

std::size_t KeyTable::place(const std::uint64_t* key) const {
  const std::size_t stride = words_ + 1;
  for (std::size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
    const std::uint64_t* slot = &slots_[i * stride];
    if (slot[0] == 0 || equal(slot + 1, key)) return i;
  }
}

void KeyTable::reserve(std::size_t count) {
  // At most half full: short probe runs, even for a miss.
  const std::size_t capacity = std::bit_ceil(std::max(kMinCapacity, count * 2));
  if (slots_.empty() || capacity > mask_ + 1) rehash(capacity);
}

void KeyTable::rehash(std::size_t capacity) {
  const std::size_t stride = words_ + 1;
  std::vector<std::uint64_t> old(capacity * stride, 0);
  old.swap(slots_);
  mask_ = capacity - 1;
  for (std::size_t i = 0; i < old.size(); i += stride) {
    if (old[i] == 0) continue;
    const std::size_t at = place(&old[i + 1]);
    std::copy(&old[i], &old[i] + stride, &slots_[at * stride]);
  }
}

std::uint32_t KeyTable::insert(const std::uint64_t* key, std::uint32_t ref) {
  if (slots_.empty() || (size_ + 1) * 2 > mask_ + 1) reserve(size_ + 1);
  const std::size_t stride = words_ + 1;
  std::uint64_t* slot = &slots_[place(key) * stride];
  const auto replaced = static_cast<std::uint32_t>(slot[0]);
  if (replaced == 0) {
    std::copy(key, key + words_, slot + 1);
    ++size_;
  }
  slot[0] = ref;
  return replaced;
}

// Backward-shift deletion: the entries after the hole that would be found
// past it move back, so every probe run stays unbroken.
std::uint32_t KeyTable::erase(const std::uint64_t* key) {
  if (slots_.empty()) return 0;
  const std::size_t stride = words_ + 1;
  std::size_t hole = place(key);
  const auto removed = static_cast<std::uint32_t>(slots_[hole * stride]);
  if (removed == 0) return 0;
  for (std::size_t next = (hole + 1) & mask_;; next = (next + 1) & mask_) {
    std::uint64_t* slot = &slots_[next * stride];
    if (slot[0] == 0) break;
    const std::size_t home = hash(slot + 1) & mask_;
    // It stays when its home lies cyclically in (hole, next].
    const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    std::copy(slot, slot + stride, &slots_[hole * stride]);
    hole = next;
  }
  slots_[hole * stride] = 0;
  --size_;
  return removed;
}

}  // namespace verdictd
