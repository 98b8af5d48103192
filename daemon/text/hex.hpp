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

// A byte as TOS and DSCP print it: two digits ("0x0a").
inline std::string hex_byte(std::uint8_t v) {
  std::array<char, 5> text{};
  std::snprintf(text.data(), text.size(), "0x%02x", static_cast<unsigned>(v));
  return text.data();
}

}  // namespace verdictd
