// The DSCP classes of RFC 2474 (CS), 2597 (AF) and 3246 (EF), as libxt_dscp's
// class_to_dscp names them for -m dscp --dscp-class and -j DSCP
// --set-dscp-class. iptables keeps, lists and saves only the number.
#pragma once

#include <cstdint>

#include "extension/value_type.hpp"

namespace verdictd {

// The class names, parsed to their index.
const ChoiceType& dscp_class_type();
// The DSCP value of the class at `index` of dscp_class_type().
std::uint8_t dscp_of_class(std::uint64_t index);

}  // namespace verdictd
