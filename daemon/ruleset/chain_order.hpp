// The order iptables shows a table's chains in: built-in chains in hook
// order, then user chains by name (iptables -L and iptables-save alike).
#pragma once

#include <vector>

#include "ruleset/model.hpp"

namespace verdictd {

std::vector<const Chain*> chains_in_display_order(const Table& table);

}  // namespace verdictd
