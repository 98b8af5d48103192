#include "conntrack/flow_index.hpp"

#include <utility>

namespace verdictd {

namespace {

// Grown past three quarters full: probes stay short, and a shard of a table
// of a million flows stays within a few hundred kilobytes.
constexpr std::size_t kInitialEntries = 16;

}  // namespace

void FlowIndex::insert(std::uint64_t hash, FlowNode* node, TupleRole role) {
  if ((used_ + 1) * 4 > entries_.size() * 3) grow();
  const auto low = static_cast<std::uint32_t>(hash);
  const Tuple& tuple = node->tuple(role);
  std::size_t at = low & mask();
  for (; entries_[at].node != nullptr; at = (at + 1) & mask()) {
    Entry& entry = entries_[at];
    if (entry.hash == low && entry.node->tuple(entry.role) == tuple) {
      entry = {node, low, role};
      return;
    }
  }
  entries_[at] = {node, low, role};
  ++used_;
}

void FlowIndex::erase(std::uint64_t hash, const Tuple& tuple, const FlowNode* node,
                      TupleRole role) {
  if (entries_.empty()) return;
  const auto low = static_cast<std::uint32_t>(hash);
  std::size_t hole = low & mask();
  for (;; hole = (hole + 1) & mask()) {
    const Entry& entry = entries_[hole];
    if (entry.node == nullptr) return;
    if (entry.hash == low && entry.node->tuple(entry.role) == tuple) break;
  }
  if (entries_[hole].node != node || entries_[hole].role != role) return;
  // Knuth's algorithm R: move back each later entry of the run that may
  // live in the hole (its home is not between the hole and it, cyclically).
  for (std::size_t next = (hole + 1) & mask(); entries_[next].node != nullptr;
       next = (next + 1) & mask()) {
    const std::size_t home = entries_[next].hash & mask();
    const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    entries_[hole] = entries_[next];
    hole = next;
  }
  entries_[hole] = {};
  --used_;
}

void FlowIndex::grow() {
  std::vector<Entry> old = std::exchange(
      entries_, std::vector<Entry>(entries_.empty() ? kInitialEntries : entries_.size() * 2));
  for (const Entry& entry : old) {
    if (entry.node == nullptr) continue;
    std::size_t at = entry.hash & mask();
    while (entries_[at].node != nullptr) at = (at + 1) & mask();
    entries_[at] = entry;
  }
}

void FlowIndex::clear() {
  entries_.clear();
  used_ = 0;
}

}  // namespace verdictd
