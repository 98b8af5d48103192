// What MARK and CONNMARK share: the five ways a rule writes a change of a
// mark (--set-mark, --set-xmark, --and-mark, --or-mark, --xor-mark), each
// kept as the kernel keeps every form (xt_mark_tginfo2, xt_connmark_tginfo1):
// the bits to clear (mask) and the bits to XOR in (value).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "extension/description.hpp"

namespace verdictd {

struct MarkOperation {
  std::uint32_t value = 0;
  std::uint32_t mask = 0;
};

// The options "set_mark", "set_xmark", "and_mark", "or_mark", "xor_mark".
std::array<OptionSpec, 5> mark_operation_options();
// Their keys, space-separated, for a Constraint.
inline constexpr std::string_view kMarkOperationKeys =
    "set_mark set_xmark and_mark or_mark xor_mark";

// The operation among `options`, if one of the five is given.
std::optional<MarkOperation> mark_operation(const OptionValues& options);

}  // namespace verdictd
