// Numbers as iptables prints marks, masks and keys: lower-case hexadecimal
// with a 0x prefix.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

namespace verdictd {

inline std::string hex(std::uint32_t v) {
  std::array<char, 11> text{};
  std::snprintf(text.data(), text.size(), "0x%x", v);
  return text.data();
}

}  // namespace verdictd
