// The flow table's pieces: a flow as the table holds it (FlowNode), and one
// shard's index from tuple to flow (FlowIndex). Lock order: daemon/LOCKING.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "conntrack/flow.hpp"

namespace verdictd {

// Which of a flow's tuples an index entry stands for.
enum class TupleRole : std::uint8_t { kOriginal, kReply, kMidway0, kMidway1 };

struct FlowNode {
  // Guards `flow`, whose tuples are also readable under the lock of a shard
  // that indexes them (a tuple changes only while no entry stands for it).
  mutable std::mutex mutex;
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
// An entry is 16 bytes: four share a cache line. The tuples stay in the
// nodes: probing compares hashes, then one tuple.
class FlowIndex {
 public:
  struct Hit {
    FlowNode* node = nullptr;
    Direction direction = Direction::kOriginal;
  };

  [[nodiscard]] Hit find(std::uint64_t hash, const Tuple& tuple) const {
    if (entries_.empty()) return {};
    const auto low = static_cast<std::uint32_t>(hash);
    for (std::size_t at = low & mask(); entries_[at].node != nullptr; at = (at + 1) & mask()) {
      const Entry& entry = entries_[at];
      if (entry.hash == low && entry.node->tuple(entry.role) == tuple) {
        return {entry.node, entry.node->direction(entry.role)};
      }
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
  struct Entry {
    FlowNode* node = nullptr;  // null: free
    std::uint32_t hash = 0;    // the tuple hash's low bits: where it belongs
    TupleRole role = TupleRole::kOriginal;
  };
  static_assert(sizeof(Entry) == 16);

  [[nodiscard]] std::size_t mask() const { return entries_.size() - 1; }
  void grow();

  std::vector<Entry> entries_;  // a power of two of them, or none
  std::size_t used_ = 0;
};

}  // namespace verdictd
