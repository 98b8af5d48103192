#include "conntrack/flow_index.hpp"

#include <stdexcept>
#include <utility>

namespace verdictd {

namespace {

// Grown past three quarters full: probes stay short, and a shard of a table
// of a million flows stays within a few hundred kilobytes.
constexpr std::size_t kInitialEntries = 16;

}  // namespace

std::uint64_t FlowIndex::entry_of(std::uint64_t hash, const FlowNode* node, TupleRole role) {
  const auto address = reinterpret_cast<std::uintptr_t>(node);
  const std::uint64_t entry =
      ((std::uint64_t{address} >> kNodeAlignmentBits) << (kHashBits + kRoleBits)) |
      (std::uint64_t{static_cast<std::uint8_t>(role)} << kHashBits) | (hash & kHashMask);
  // An address past 47 bits (five-level page tables, on request only) would
  // not come back.
  if (node_of(entry) != node) throw std::logic_error("a flow node's address does not fit an entry");
  return entry;
}

void FlowIndex::insert(std::uint64_t hash, FlowNode* node, TupleRole role) {
  if ((used_ + 1) * 4 > entries_.size() * 3) grow();
  const std::uint64_t low = hash & kHashMask;
  const Tuple& tuple = node->tuple(role);
  std::size_t at = low & mask();
  for (; entries_[at] != kFree; at = (at + 1) & mask()) {
    const std::uint64_t entry = entries_[at];
    if ((entry & kHashMask) == low && node_of(entry)->tuple(role_of(entry)) == tuple) {
      entries_[at] = entry_of(hash, node, role);
      return;
    }
  }
  entries_[at] = entry_of(hash, node, role);
  ++used_;
}

void FlowIndex::erase(std::uint64_t hash, const Tuple& tuple, const FlowNode* node,
                      TupleRole role) {
  if (entries_.empty()) return;
  const std::uint64_t low = hash & kHashMask;
  std::size_t hole = low & mask();
  for (;; hole = (hole + 1) & mask()) {
    const std::uint64_t entry = entries_[hole];
    if (entry == kFree) return;
    if ((entry & kHashMask) == low && node_of(entry)->tuple(role_of(entry)) == tuple) break;
  }
  if (node_of(entries_[hole]) != node || role_of(entries_[hole]) != role) return;
  // Knuth's algorithm R: move back each later entry of the run that may
  // live in the hole (its home is not between the hole and it, cyclically).
  for (std::size_t next = (hole + 1) & mask(); entries_[next] != kFree;
       next = (next + 1) & mask()) {
    const std::size_t home = entries_[next] & mask();
    const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    entries_[hole] = entries_[next];
    hole = next;
  }
  entries_[hole] = kFree;
  --used_;
}

void FlowIndex::grow() {
  const std::size_t size = entries_.empty() ? kInitialEntries : entries_.size() * 2;
  // Where an entry belongs is read from its hash bits.
  if (size > (std::size_t{1} << kHashBits)) {
    throw std::length_error("a flow table shard has no room for more entries");
  }
  std::vector<std::uint64_t> old = std::exchange(entries_, std::vector<std::uint64_t>(size));
  for (const std::uint64_t entry : old) {
    if (entry == kFree) continue;
    std::size_t at = entry & mask();
    while (entries_[at] != kFree) at = (at + 1) & mask();
    entries_[at] = entry;
  }
}

void FlowIndex::clear() {
  entries_.clear();
  used_ = 0;
}

}  // namespace verdictd
