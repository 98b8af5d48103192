// The flow table's pieces: a flow as the table holds it (FlowNode), and one
// shard's index from tuple to flow (FlowIndex). Lock order: daemon/LOCKING.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "conntrack/flow.hpp"
#include "conntrack/word_lock.hpp"

namespace verdictd {

// Which of a flow's tuples an index entry stands for.
enum class TupleRole : std::uint8_t { kOriginal, kReply, kMidway0, kMidway1 };

// Aligned to a cache line, so that the lock and the flow's first fields
// (what a lookup reads) share the node's first line.
struct alignas(64) FlowNode {
  // Guards `flow`, whose tuples are also readable under the lock of a shard
  // that indexes them (a tuple changes only while no entry stands for it).
  mutable WordLock mutex;
  Flow flow;
  // A translated flow's packets between its destination and its source
  // manipulation (at FORWARD, INPUT, POSTROUTING) carry neither of its two
  // tuples; these find it there. midway_count of them are in use.
  std::array<Tuple, 2> midway{};
  std::array<Direction, 2> midway_direction{};
  std::uint8_t midway_count = 0;
  // Creation order, for eviction and listing (the table's structure lock).
  FlowNode* older = nullptr;
  FlowNode* newer = nullptr;

  [[nodiscard]] const Tuple& tuple(TupleRole role) const {
    switch (role) {
      case TupleRole::kOriginal:
        return flow.original;
      case TupleRole::kReply:
        return flow.reply;
      case TupleRole::kMidway0:
        return midway[0];
      case TupleRole::kMidway1:
        break;
    }
    return midway[1];
  }
  [[nodiscard]] Direction direction(TupleRole role) const {
    switch (role) {
      case TupleRole::kOriginal:
        return Direction::kOriginal;
      case TupleRole::kReply:
        return Direction::kReply;
      case TupleRole::kMidway0:
        return midway_direction[0];
      case TupleRole::kMidway1:
        break;
    }
    return midway_direction[1];
  }
};

// Open addressing with linear probing, and deletion by shifting the entries
// after back (no tombstones, so a long-lived table does not slow down).
// An entry is one 8-byte word: eight share a cache line, and a table of a
// million flows keeps its index within the processor's caches as far as it
// can (a lookup's one random access is into the index; the node it leads to
// comes next). The tuples stay in the nodes: probing compares the hash's
// low bits, then one tuple.
class FlowIndex {
 public:
  struct Hit {
    FlowNode* node = nullptr;
    Direction direction = Direction::kOriginal;
  };

  [[nodiscard]] Hit find(std::uint64_t hash, const Tuple& tuple) const {
    if (entries_.empty()) return {};
    const std::uint64_t low = hash & kHashMask;
    for (std::size_t at = low & mask(); entries_[at] != kFree; at = (at + 1) & mask()) {
      const std::uint64_t entry = entries_[at];
      if ((entry & kHashMask) != low) continue;
      FlowNode* const node = node_of(entry);
      const TupleRole role = role_of(entry);
      if (node->tuple(role) == tuple) return {node, node->direction(role)};
    }
    return {};
  }
  // Makes `tuple` (hashing to `hash`) lead to `node`'s tuple `role`,
  // replacing an entry for the same tuple.
  void insert(std::uint64_t hash, FlowNode* node, TupleRole role);
  // Removes the entry for `tuple` if it leads to `node`'s tuple `role`.
  void erase(std::uint64_t hash, const Tuple& tuple, const FlowNode* node, TupleRole role);
  void clear();
  [[nodiscard]] std::size_t size() const { return used_; }

 private:
  // An entry's word, from the top: the node's address without its six low
  // bits (nodes are aligned to 64 bytes; user space addresses have 47 bits,
  // so 41 are left), the tuple's role (2 bits), and the low kHashBits of the
  // tuple's hash, which say where the entry belongs. A shard never needs
  // room for 2^21 entries, 512 million over the table: conntrack_max is at
  // most 2^26 flows, of at most four tuples each.
  static constexpr int kHashBits = 21;
  static constexpr int kRoleBits = 2;
  static constexpr int kNodeAlignmentBits = 6;
  static constexpr std::uint64_t kHashMask = (std::uint64_t{1} << kHashBits) - 1;
  static constexpr std::uint64_t kFree = 0;  // no node is at address 0
  static_assert(alignof(FlowNode) == std::size_t{1} << kNodeAlignmentBits);

  static std::uint64_t entry_of(std::uint64_t hash, const FlowNode* node, TupleRole role);
  static FlowNode* node_of(std::uint64_t entry) {
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the address was packed by entry_of
    return reinterpret_cast<FlowNode*>((entry >> (kHashBits + kRoleBits)) << kNodeAlignmentBits);
  }
  static TupleRole role_of(std::uint64_t entry) {
    return static_cast<TupleRole>((entry >> kHashBits) & ((1U << kRoleBits) - 1));
  }

  [[nodiscard]] std::size_t mask() const { return entries_.size() - 1; }
  void grow();

  std::vector<std::uint64_t> entries_;  // a power of two of them, or none
  std::size_t used_ = 0;
};

}  // namespace verdictd
