// The value types of the set match's and SET target's options: a set's
// name and its "src,dst" flags.
#pragma once

#include "extension/value_type.hpp"

namespace verdictd {

// A set name, 1 to 31 characters (IPSET_MAXNAMELEN).
const ValueType& set_name_type();
// "src" or "dst" per dimension, comma-separated, at most 6 (IPSET_DIM_MAX).
const ValueType& set_flags_type();

}  // namespace verdictd
