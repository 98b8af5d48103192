// A TOS value under a mask, as libxt_tos and libxt_TOS read it: a number
// with an optional "/mask" (none: the whole byte), or one of the symbolic
// names (tos_values), which stand for their value under the mask 0x3f.
// Shared by -m tos and -j TOS.
#pragma once

#include <string>

#include "extension/value_type.hpp"

namespace verdictd {

const ValueType& tos_value_type();

// "0x10/0xff", as iptables-save and iptables -L -n print it.
std::string tos_text(const ValueMask& tos);

}  // namespace verdictd
