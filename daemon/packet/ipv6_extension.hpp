// IPv6 extension headers: the ones PacketView::parse walks to reach the
// transport header, in one place for every reader of IPv6 packets.
#pragma once

#include <cstdint>

namespace verdictd {

// The next-header numbers of the extension headers (ESP and AH are IPv4
// protocols too), beside the transport protocols of packet/packet.hpp.
namespace ipproto {
inline constexpr std::uint8_t kHopByHop = 0;
inline constexpr std::uint8_t kRouting = 43;
inline constexpr std::uint8_t kFragment = 44;
inline constexpr std::uint8_t kEsp = 50;
inline constexpr std::uint8_t kAh = 51;
inline constexpr std::uint8_t kNoNextHeader = 59;
inline constexpr std::uint8_t kDestinationOptions = 60;
}  // namespace ipproto

// Hop-by-hop, routing, fragment, AH and destination options. ESP (50) and
// no-next-header (59) end the walk like any protocol, as in the kernel's
// ipv6_find_hdr.
bool is_ipv6_extension_header(std::uint8_t next_header);

}  // namespace verdictd
