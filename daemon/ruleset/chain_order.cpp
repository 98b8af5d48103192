#include "ruleset/chain_order.hpp"

#include <algorithm>

namespace verdictd {

std::vector<const Chain*> chains_in_display_order(const Table& table) {
  std::vector<const Chain*> chains;
  chains.reserve(table.chains.size());
  for (const Chain& chain : table.chains) chains.push_back(&chain);
  std::stable_sort(chains.begin(), chains.end(), [](const Chain* a, const Chain* b) {
    if (a->builtin != b->builtin) return a->builtin;
    return !a->builtin && a->name < b->name;
  });
  return chains;
}

}  // namespace verdictd
