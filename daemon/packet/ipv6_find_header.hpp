// Where a given header starts in an IPv6 packet, walking the extension
// headers as the kernel's ipv6_find_hdr does for a wanted header: the walk
// stops at the first header that is not an extension header (absent), at a
// later fragment (absent: its headers are in the first), or where a header
// is cut short (malformed: the matches that asked drop the packet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace verdictd {

struct Ipv6HeaderSearch {
  enum class Result : std::uint8_t { kFound, kAbsent, kMalformed };
  Result result = Result::kAbsent;
  std::size_t offset = 0;  // from the IPv6 header, when found
};

// `packet` starts at the IPv6 header and ends where its payload length says.
Ipv6HeaderSearch find_ipv6_header(std::span<const std::uint8_t> packet, std::uint8_t target);

}  // namespace verdictd
