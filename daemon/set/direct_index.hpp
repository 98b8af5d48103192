// IPv4 hash:net's lookup in one or two memory reads, in the DIR-24-8 style
// of routing tables: a slot per /24 holds the element of the longest prefix
// (/0-/24) that covers the whole /24, or points to what decides the parts
// of a /24 that longer prefixes (/25-/32) cut up. Such a /24 is a few runs
// of addresses (a /32 in it makes three) in one 32-byte chunk; one cut into
// more than kChunkRuns runs gets a subtable of 256 slots, one per address.
// Whatever the set's prefixes, a lookup reads the /24's slot, and for a cut
// /24 one cache line more. That line is requested together with the slot:
// a cut /24's chunk lives in the cache line its /24 hashes to (two chunks
// to a line) or, when both are taken, at the next free place, so the two
// memory reads mostly overlap instead of following each other.
//
// Memory: the top array is 2^24 four-byte slots (64 MiB), plus one byte per
// slot (16 MiB) of its prefix length, read by updates and the rare fall-back
// only; 32 to 64 bytes per cut /24 (the chunks' table is a quarter to five
// eighths free), 1.25 KiB per finely cut one. Hence only large sets have one
// (IpSet builds it when the set reaches kDirectIndexElements).
//
// Slots hold the set's element references (IpSet's, with its nomatch bit)
// or 0; prefix lengths are kept as "codes", length + 1 (0: none).
// Not synchronised: the set's lock guards it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "set/page_buffer.hpp"

namespace verdictd {

class DirectIndex {
 public:
  // A top slot that points to a chunk or subtable has kIndirectBit (and
  // kSubtableBit for a subtable); element references stay below both.
  static constexpr std::uint32_t kIndirectBit = 0x40000000U;
  static constexpr std::uint32_t kSubtableBit = 0x20000000U;
  static constexpr std::uint32_t kIndexMask = kSubtableBit - 1;
  static constexpr std::size_t kChunkRuns = 4;

  DirectIndex();
  DirectIndex(const DirectIndex& other);
  DirectIndex& operator=(const DirectIndex&) = delete;
  // Room for `count` cut /24s without moving the chunks.
  void reserve_chunks(std::size_t count);

  // The reference of the longest prefix holding `address`, or 0.
  [[nodiscard]] std::uint32_t find(std::uint32_t address) const {
    const std::uint32_t block = address >> 8;
    __builtin_prefetch(&chunks_[home_of(block)]);
    const std::uint32_t slot = top_[block];
    if ((slot & kIndirectBit) == 0) return slot;
    const std::uint32_t low = address & 0xffU;
    if ((slot & kSubtableBit) != 0) return subtable_refs_[((slot & kIndexMask) << 8) | low];
    const Chunk& chunk = chunks_[slot & kIndexMask];
    return chunk.refs[chunk.run_of(low)];
  }
  // The prefix length of the element find(address) returns (one there).
  [[nodiscard]] std::uint8_t length(std::uint32_t address) const;

  // `prefix`/`length` with reference `ref` now decides every address it
  // covers whose longest prefix is not longer (a new element, or a
  // replaced one: the same length).
  void add(std::uint32_t prefix, std::uint8_t length, std::uint32_t ref);
  // `prefix`/`length` is gone: the addresses it decided go to the longest
  // remaining prefix that covers it, `heir_ref` of `heir_length` (none:
  // heir_ref 0). That one prefix serves them all: had a longer prefix
  // covered one of them, that one would have decided it.
  void remove(std::uint32_t prefix, std::uint8_t length, std::uint32_t heir_ref,
              std::uint8_t heir_length);

 private:
  // Runs of a cut /24, two to a cache line: run 0 from address 0, run i
  // from later_starts[i - 1] (0: unused) up to the next run's start.
  struct alignas(32) Chunk {
    std::uint32_t owner;  // 1 + the /24 (address >> 8) it cuts; 0: free
    std::array<std::uint32_t, kChunkRuns> refs;
    std::array<std::uint8_t, kChunkRuns> codes;
    std::array<std::uint8_t, kChunkRuns - 1> later_starts;

    [[nodiscard]] std::size_t run_of(std::uint32_t low) const {
      std::size_t run = 0;
      for (const std::uint8_t start : later_starts) run += start != 0 && start <= low ? 1 : 0;
      return run;
    }
  };
  static_assert(sizeof(Chunk) == 32);
  static constexpr std::size_t kFewestChunks = 64;
  struct Run {
    std::uint16_t start;
    std::uint8_t code;
    std::uint32_t ref;
  };
  // Which slots a change rewrites (codes in [min_code, max_code]), and with what.
  struct Change {
    std::uint8_t min_code;
    std::uint8_t max_code;
    std::uint32_t ref;
    std::uint8_t code;
    [[nodiscard]] bool applies(std::uint8_t at) const { return min_code <= at && at <= max_code; }
  };

  // Where the chunk of `block` is looked for first, the first of a cache
  // line's two (Fibonacci hashing).
  [[nodiscard]] std::size_t home_of(std::uint32_t block) const {
    return std::size_t{(block * 0x9e3779b1U) >> chunk_shift_} << 1;
  }
  void apply(std::uint32_t prefix, std::uint8_t length, const Change& change);
  // The change over addresses first-last (0-255) of the /24 in top slot `slot`.
  void apply_within(std::size_t slot, std::uint32_t first, std::uint32_t last,
                    const Change& change);
  void apply_to_subtable(std::uint32_t index, std::uint32_t first, std::uint32_t last,
                         const Change& change);
  static void store_runs(Chunk& chunk, const Run* runs, std::size_t count);
  // A free chunk for `block`, at its home or the next free place after it;
  // the chunks move to a table twice as large when three quarters are in
  // use (most then sit at their home: the prefetch finds them).
  std::uint32_t new_chunk(std::uint32_t block);
  void resize_chunks(std::size_t capacity);
  std::uint32_t new_subtable(const Run* runs, std::size_t count);

  PageBuffer top_buffer_;
  PageBuffer top_code_buffer_;
  std::uint32_t* top_;  // into top_buffer_
  std::uint8_t* top_codes_;
  // A power of two of chunks, zero-filled (free) as they come from mmap.
  std::unique_ptr<PageBuffer> chunk_buffer_;
  Chunk* chunks_ = nullptr;
  std::size_t chunk_capacity_ = 0;
  std::size_t chunks_used_ = 0;
  unsigned chunk_shift_ = 32;                 // 32 - log2(the cache lines of chunks)
  std::vector<std::uint32_t> subtable_refs_;  // 256 per subtable
  std::vector<std::uint8_t> subtable_codes_;
};

}  // namespace verdictd
