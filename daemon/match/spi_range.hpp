// What -m esp, -m ah and -m frag share: a range of 32-bit identifiers (security
// parameter indexes, fragment identifications), as xt_esp's and xt_ah's
// spi_match and ip6t_frag's id_match test it, and their libxt text.
#pragma once

#include <string>

#include "extension/match.hpp"

namespace verdictd {

struct SpiTest {
  std::uint32_t low = 0;
  std::uint32_t high = 0xffffffff;
  bool negated = false;

  static SpiTest from(const OptionValues& options, std::string_view key);
  [[nodiscard]] bool passes(std::uint32_t spi) const {
    return (spi >= low && spi <= high) != negated;
  }
  // "spi:5", "spis:!5:10" (`name` "spi"); nothing for the whole range not negated.
  [[nodiscard]] std::string list_text(std::string_view name) const;
  // " ! --espspi 5:10"; nothing for the whole range, even negated (as iptables-save).
  [[nodiscard]] std::string save_text(std::string_view flag) const;
};

// "5" or "5:10": 32-bit SPIs, parsed to a CountRange.
const ValueType& spi_range_type();

}  // namespace verdictd
