// IPv6 extension headers: the ones PacketView::parse walks to reach the
// transport header, in one place for every reader of IPv6 packets.
#pragma once

#include <cstdint>

namespace verdictd {

// Hop-by-hop, routing, fragment, AH and destination options. ESP (50) and
// no-next-header (59) end the walk like any protocol, as in the kernel's
// ipv6_find_hdr.
bool is_ipv6_extension_header(std::uint8_t next_header);

}  // namespace verdictd
