#include "packet/ipv6_find_header.hpp"

#include "packet/ipv6_extension.hpp"
#include "packet/packet.hpp"

namespace verdictd {

namespace {

constexpr std::uint16_t kOffsetBits = 0xfff8;

}  // namespace

Ipv6HeaderSearch find_ipv6_header(std::span<const std::uint8_t> packet, std::uint8_t target) {
  using Result = Ipv6HeaderSearch::Result;
  if (packet.size() < kIpv6Header) return {Result::kMalformed};
  std::uint8_t next = packet[6];
  std::size_t at = kIpv6Header;
  while (next != target) {
    if (!is_ipv6_extension_header(next)) return {Result::kAbsent};
    if (at + 2 > packet.size()) return {Result::kMalformed};
    std::size_t length = 0;
    if (next == ipproto::kFragment) {
      if (at + 4 > packet.size()) return {Result::kMalformed};
      const auto fragment = static_cast<std::uint16_t>(packet[at + 2] << 8U | packet[at + 3]);
      if ((fragment & kOffsetBits) != 0) return {Result::kAbsent};
      length = 8;
    } else if (next == ipproto::kAh) {
      length = (static_cast<std::size_t>(packet[at + 1]) + 2) * 4;  // ipv6_authlen
    } else {
      length = (static_cast<std::size_t>(packet[at + 1]) + 1) * 8;  // ipv6_optlen
    }
    next = packet[at];
    at += length;
  }
  return {Result::kFound, at};
}

}  // namespace verdictd
