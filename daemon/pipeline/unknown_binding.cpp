#include "pipeline/unknown_binding.hpp"

#include "nat/nat_translation.hpp"

namespace verdictd {

std::array<std::uint8_t, kFamilyCount> bindable_manips(const Ruleset& ruleset) {
  std::array<std::uint8_t, kFamilyCount> bindable{};
  const Table& nat = ruleset.table(TableId::kNat);
  for (const Chain& chain : nat.chains) {
    for (const Rule& rule : chain.rules) {
      // In the nat table only the NAT targets touch the connection.
      if (!rule.target || !rule.target->needs_conntrack()) continue;
      std::uint8_t manips = 0;
      for (Hook hook : kAllHooks) {
        if ((chain.reached_from & hook_bit(hook)) != 0) manips |= nat_manip_of(hook);
      }
      for (Family family : kAllFamilies) {
        if ((nat.families & family_bit(family)) == 0) continue;
        if (rule.family && *rule.family != family) continue;
        bindable[family_index(family)] |= manips;
      }
    }
  }
  return bindable;
}

bool needs_unknown_binding(const Flow& flow, Direction direction, Hook hook,
                           std::uint8_t bindable) {
  const std::uint8_t manip = nat_manip_of(hook);
  if (manip == 0) return false;
  // A reply is translated by the binding of the other manipulation: the
  // source of the original direction is the reply's destination.
  const std::uint8_t needed =
      direction == Direction::kOriginal ? manip : (natmanip::kBoth & ~manip);
  return (flow.nat_unknown & needed) != 0 && (flow.nat_done & needed) == 0 &&
         (bindable & needed) != 0;
}

}  // namespace verdictd
