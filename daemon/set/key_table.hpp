// One open-addressing hash table of fixed-width keys (a few 64-bit words)
// to a 32-bit reference, with linear probing and backward-shift deletion, so
// a lookup is one or two probes in one cache line and no tombstones build
// up. A set keeps one per prefix length present (set/set_index.hpp).
// Not synchronised: the set's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace verdictd {

class KeyTable {
 public:
  // `seed` varies the hash per set, as ipset's initval.
  KeyTable(std::size_t words, std::uint64_t seed) : words_(words), seed_(seed) {}

  // The reference stored under `key`, or 0 (references are never 0).
  [[nodiscard]] std::uint32_t find(const std::uint64_t* key) const {
    if (slots_.empty()) return 0;
    const std::size_t stride = words_ + 1;
    for (std::size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t* slot = &slots_[i * stride];
      if (slot[0] == 0) return 0;
      if (equal(slot + 1, key)) return static_cast<std::uint32_t>(slot[0]);
    }
  }
  // Starts loading the cache line `key` would be found in, so the probes
  // of several tables overlap their memory latency.
  void prefetch(const std::uint64_t* key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[(hash(key) & mask_) * (words_ + 1)]);
  }
  // Stores `ref` (not 0) under `key`, replacing what was there; returns the
  // reference replaced, or 0.
  std::uint32_t insert(const std::uint64_t* key, std::uint32_t ref);
  // Removes `key`; returns its reference, or 0 when absent.
  std::uint32_t erase(const std::uint64_t* key);
  [[nodiscard]] std::size_t size() const { return size_; }
  // Calls visit(key, ref) for every entry.
  template <class Visit>
  void for_each(Visit visit) const {
    const std::size_t stride = words_ + 1;
    for (std::size_t i = 0; i < slots_.size(); i += stride) {
      if (slots_[i] != 0) {
        visit(std::span<const std::uint64_t>(&slots_[i + 1], words_),
              static_cast<std::uint32_t>(slots_[i]));
      }
    }
  }
  // Room for `count` entries without growing.
  void reserve(std::size_t count);

 private:
  [[nodiscard]] bool equal(const std::uint64_t* a, const std::uint64_t* b) const {
    for (std::size_t w = 0; w < words_; ++w) {
      if (a[w] != b[w]) return false;
    }
    return true;
  }
  // A multiply-xorshift mix of the words: every bit of the key reaches the
  // low bits that pick the slot.
  [[nodiscard]] std::uint64_t hash(const std::uint64_t* key) const {
    constexpr std::uint64_t kOdd1 = 0x9e3779b97f4a7c15ULL;
    constexpr std::uint64_t kOdd2 = 0xbf58476d1ce4e5b9ULL;
    std::uint64_t h = seed_;
    for (std::size_t w = 0; w < words_; ++w) h = (h ^ key[w]) * kOdd1;
    h ^= h >> 32;
    h *= kOdd2;
    return h ^ (h >> 29);
  }
  void rehash(std::size_t capacity);
  // Where `key` sits, or the empty slot where it would go.
  [[nodiscard]] std::size_t place(const std::uint64_t* key) const;

  std::size_t words_;
  std::uint64_t seed_;
  std::size_t mask_ = 0;  // capacity - 1
  std::size_t size_ = 0;
  // Per slot: the reference (0: empty), then the key's words.
  std::vector<std::uint64_t> slots_;
};

}  // namespace verdictd
