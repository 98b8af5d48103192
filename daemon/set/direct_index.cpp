#include "set/direct_index.hpp"

#include <algorithm>
#include <bit>
#include <utility>

namespace verdictd {

namespace {

constexpr std::size_t kTopSlots = std::size_t{1} << 24;
constexpr std::uint32_t kSlotsPerTop = 256;
constexpr std::uint8_t kTopLength = 24;
constexpr std::uint8_t kHostLength = 32;

}  // namespace

DirectIndex::DirectIndex()
    : top_buffer_(kTopSlots * sizeof(std::uint32_t)),
      top_code_buffer_(kTopSlots),
      top_(static_cast<std::uint32_t*>(top_buffer_.data())),
      top_codes_(static_cast<std::uint8_t*>(top_code_buffer_.data())) {
  resize_chunks(kFewestChunks);
}

DirectIndex::DirectIndex(const DirectIndex& other)
    : top_buffer_(other.top_buffer_),
      top_code_buffer_(other.top_code_buffer_),
      top_(static_cast<std::uint32_t*>(top_buffer_.data())),
      top_codes_(static_cast<std::uint8_t*>(top_code_buffer_.data())),
      chunk_buffer_(std::make_unique<PageBuffer>(*other.chunk_buffer_)),
      chunks_(static_cast<Chunk*>(chunk_buffer_->data())),
      chunk_capacity_(other.chunk_capacity_),
      chunks_used_(other.chunks_used_),
      chunk_shift_(other.chunk_shift_),
      subtable_refs_(other.subtable_refs_),
      subtable_codes_(other.subtable_codes_) {}

std::uint8_t DirectIndex::length(std::uint32_t address) const {
  const std::uint32_t slot = top_[address >> 8];
  const std::uint32_t low = address & 0xffU;
  std::uint8_t code = top_codes_[address >> 8];
  if ((slot & kIndirectBit) != 0 && (slot & kSubtableBit) != 0) {
    code = subtable_codes_[((slot & kIndexMask) << 8) | low];
  } else if ((slot & kIndirectBit) != 0) {
    const Chunk& chunk = chunks_[slot & kIndexMask];
    code = chunk.codes[chunk.run_of(low)];
  }
  return static_cast<std::uint8_t>(code - 1);
}

void DirectIndex::add(std::uint32_t prefix, std::uint8_t length, std::uint32_t ref) {
  const auto code = static_cast<std::uint8_t>(length + 1);
  apply(prefix, length, Change{0, code, ref, code});
}

void DirectIndex::remove(std::uint32_t prefix, std::uint8_t length, std::uint32_t heir_ref,
                         std::uint8_t heir_length) {
  const auto code = static_cast<std::uint8_t>(length + 1);
  const auto heir_code = static_cast<std::uint8_t>(heir_ref == 0 ? 0 : heir_length + 1);
  apply(prefix, length, Change{code, code, heir_ref, heir_code});
}

void DirectIndex::apply(std::uint32_t prefix, std::uint8_t length, const Change& change) {
  if (length > kTopLength) {
    const std::uint32_t first = prefix & 0xffU;
    apply_within(prefix >> 8, first, first + (1U << (kHostLength - length)) - 1, change);
    return;
  }
  const std::size_t first = prefix >> 8;
  const std::size_t end = first + (std::size_t{1} << (kTopLength - length));
  for (std::size_t slot = first; slot < end; ++slot) {
    if ((top_[slot] & kIndirectBit) != 0) {
      apply_within(slot, 0, kSlotsPerTop - 1, change);
    } else if (change.applies(top_codes_[slot])) {
      top_[slot] = change.ref;
      top_codes_[slot] = change.code;
    }
  }
}

void DirectIndex::apply_to_subtable(std::uint32_t index, std::uint32_t first, std::uint32_t last,
                                    const Change& change) {
  const std::size_t base = std::size_t{index} << 8;
  for (std::size_t at = base + first; at <= base + last; ++at) {
    if (change.applies(subtable_codes_[at])) {
      subtable_refs_[at] = change.ref;
      subtable_codes_[at] = change.code;
    }
  }
}

// The /24's runs with the change made: split where the change's range
// begins and ends, rewritten inside it, equal neighbours merged. Few runs
// stay in a chunk (a /24 with one run again is decided whole); more go to
// a subtable.
void DirectIndex::apply_within(std::size_t slot, std::uint32_t first, std::uint32_t last,
                               const Change& change) {
  const std::uint32_t value = top_[slot];
  if ((value & kSubtableBit) != 0) {
    apply_to_subtable(value & kIndexMask, first, last, change);
    return;
  }
  std::array<Run, kChunkRuns + 2> runs{};
  std::size_t count = 0;
  if ((value & kIndirectBit) == 0) {
    if (!change.applies(top_codes_[slot])) return;
    runs[count++] = Run{0, top_codes_[slot], value};
  } else {
    const Chunk& chunk = chunks_[value & kIndexMask];
    runs[count++] = Run{0, chunk.codes[0], chunk.refs[0]};
    while (count < kChunkRuns && chunk.later_starts[count - 1] != 0) {
      runs[count] = Run{chunk.later_starts[count - 1], chunk.codes[count], chunk.refs[count]};
      ++count;
    }
  }
  const auto split = [&](std::uint32_t at) {
    if (at >= kSlotsPerTop) return;
    std::size_t i = count;
    while (runs[i - 1].start > at) --i;  // runs[i - 1] holds `at`
    if (runs[i - 1].start == at) return;
    std::copy_backward(runs.begin() + static_cast<std::ptrdiff_t>(i),
                       runs.begin() + static_cast<std::ptrdiff_t>(count),
                       runs.begin() + static_cast<std::ptrdiff_t>(count + 1));
    runs[i] = runs[i - 1];
    runs[i].start = static_cast<std::uint16_t>(at);
    ++count;
  };
  split(first);
  split(last + 1);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < count; ++i) {
    Run run = runs[i];
    if (run.start >= first && run.start <= last && change.applies(run.code)) {
      run.code = change.code;
      run.ref = change.ref;
    }
    if (kept > 0 && runs[kept - 1].ref == run.ref && runs[kept - 1].code == run.code) continue;
    runs[kept++] = run;
  }
  if ((value & kIndirectBit) != 0 && kept > 1 && kept <= kChunkRuns) {
    store_runs(chunks_[value & kIndexMask], runs.data(), kept);
    return;
  }
  if ((value & kIndirectBit) != 0) {
    chunks_[value & kIndexMask].owner = 0;
    --chunks_used_;
  }
  if (kept == 1) {
    top_[slot] = runs[0].ref;
    top_codes_[slot] = runs[0].code;
  } else if (kept <= kChunkRuns) {
    const std::uint32_t index = new_chunk(static_cast<std::uint32_t>(slot));
    top_[slot] = kIndirectBit | index;
    store_runs(chunks_[index], runs.data(), kept);
  } else {
    top_[slot] = kIndirectBit | kSubtableBit | new_subtable(runs.data(), kept);
  }
}

void DirectIndex::store_runs(Chunk& chunk, const Run* runs, std::size_t count) {
  for (std::size_t i = 0; i < kChunkRuns; ++i) {
    chunk.refs[i] = i < count ? runs[i].ref : 0;
    chunk.codes[i] = i < count ? runs[i].code : 0;
    if (i > 0) chunk.later_starts[i - 1] = static_cast<std::uint8_t>(i < count ? runs[i].start : 0);
  }
}

void DirectIndex::reserve_chunks(std::size_t count) {
  std::size_t capacity = chunk_capacity_;
  while (3 * capacity < 4 * count) capacity *= 2;
  if (capacity != chunk_capacity_) resize_chunks(capacity);
}

// A chunk is found through its top slot, never by probing: the places are
// only a hint for the prefetch, so a freed one needs no tombstone.
std::uint32_t DirectIndex::new_chunk(std::uint32_t block) {
  if (4 * (chunks_used_ + 1) > 3 * chunk_capacity_) resize_chunks(2 * chunk_capacity_);
  const std::size_t mask = chunk_capacity_ - 1;
  std::size_t at = home_of(block);
  while (chunks_[at].owner != 0) at = (at + 1) & mask;
  chunks_[at].owner = block + 1;
  ++chunks_used_;
  return static_cast<std::uint32_t>(at);
}

void DirectIndex::resize_chunks(std::size_t capacity) {
  std::unique_ptr<PageBuffer> old =
      std::exchange(chunk_buffer_, std::make_unique<PageBuffer>(capacity * sizeof(Chunk)));
  const Chunk* old_chunks = chunks_;
  const std::size_t old_capacity = chunk_capacity_;
  chunks_ = static_cast<Chunk*>(chunk_buffer_->data());
  chunk_capacity_ = capacity;
  chunk_shift_ = 32 - static_cast<unsigned>(std::countr_zero(capacity / 2));
  chunks_used_ = 0;
  for (std::size_t i = 0; i < old_capacity; ++i) {
    const Chunk& chunk = old_chunks[i];
    if (chunk.owner == 0) continue;
    const std::uint32_t index = new_chunk(chunk.owner - 1);
    chunks_[index] = chunk;
    top_[chunk.owner - 1] = kIndirectBit | index;
  }
}

std::uint32_t DirectIndex::new_subtable(const Run* runs, std::size_t count) {
  const auto index = static_cast<std::uint32_t>(subtable_refs_.size() / kSlotsPerTop);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t end = i + 1 < count ? runs[i + 1].start : kSlotsPerTop;
    subtable_refs_.insert(subtable_refs_.end(), end - runs[i].start, runs[i].ref);
    subtable_codes_.insert(subtable_codes_.end(), end - runs[i].start, runs[i].code);
  }
  return index;
}

}  // namespace verdictd
