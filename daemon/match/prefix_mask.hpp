// An address cut to a prefix length, as the matches that group addresses by
// network do (connlimit's --connlimit-mask, hashlimit's --hashlimit-srcmask).
#pragma once

#include <algorithm>

#include "packet/address.hpp"

namespace verdictd {

inline constexpr int kIpv4Bits = 32;
inline constexpr int kIpv6Bits = 128;

// The bits of a whole address of the family.
inline int address_bits(Family family) { return family == Family::kIPv4 ? kIpv4Bits : kIpv6Bits; }

// `address` with all but its first `bits` bits cleared.
inline IpAddress masked(IpAddress address, int bits) {
  for (std::size_t i = 0; i < address.bytes.size(); ++i) {
    const int kept = std::clamp(bits - static_cast<int>(i * 8), 0, 8);
    address.bytes[i] &= static_cast<std::uint8_t>(0xff00U >> kept);
  }
  return address;
}

}  // namespace verdictd
