// The kind of an IPv6 address by its bits alone, as the kernel's
// __ipv6_addr_type classifies it for addrtype and rpfilter.
#pragma once

#include <cstdint>

#include "packet/address.hpp"

namespace verdictd {

// IPV6_ADDR_* bits (net/ipv6.h) that the matches read.
namespace ipv6_address {
inline constexpr std::uint32_t kAny = 0x0000;
inline constexpr std::uint32_t kUnicast = 0x0001;
inline constexpr std::uint32_t kMulticast = 0x0002;
inline constexpr std::uint32_t kLinkLocal = 0x0020;
inline constexpr std::uint32_t kMapped = 0x1000;
}  // namespace ipv6_address

// ::/128 is "any"; ::ffff:0:0/96 (v4-mapped) is neither unicast nor
// multicast; ff00::/8 multicast; fe80::/10 link-local unicast; everything
// else unicast (loopback, v4-compatible, site-local, ULA, reserved).
inline std::uint32_t ipv6_address_type(const IpAddress& a) {
  const auto& b = a.bytes;
  if (b[0] == 0xff) return ipv6_address::kMulticast;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
    return ipv6_address::kUnicast | ipv6_address::kLinkLocal;
  }
  bool first_eight_zero = true;
  for (int i = 0; i < 8; ++i) first_eight_zero = first_eight_zero && b[i] == 0;
  if (first_eight_zero) {
    if (b[8] == 0 && b[9] == 0 && b[10] == 0xff && b[11] == 0xff) return ipv6_address::kMapped;
    bool rest_zero = true;
    for (int i = 8; i < 16; ++i) rest_zero = rest_zero && b[i] == 0;
    if (rest_zero) return ipv6_address::kAny;
  }
  return ipv6_address::kUnicast;
}

}  // namespace verdictd
