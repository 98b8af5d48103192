// Internet checksums (RFC 1071) and their incremental update (RFC 1624), and
// the CRC32c that SCTP carries instead. Pure arithmetic over bytes.
#pragma once

#include <cstdint>
#include <span>

#include "packet/address.hpp"

namespace verdictd::checksum {

// The ones-complement sum of `bytes` read as big-endian 16-bit words (an odd
// last byte is padded with a zero byte), added to `initial` and folded to 16
// bits, not complemented. Sums chain: ones_sum(b, ones_sum(a)) sums a then b,
// as long as `a` has an even length.
std::uint16_t ones_sum(std::span<const std::uint8_t> bytes, std::uint16_t initial = 0);

// The ones-complement sum of two folded sums.
std::uint16_t ones_add(std::uint16_t a, std::uint16_t b);

// The sum of the pseudo-header that TCP, UDP, UDP-Lite and ICMPv6 checksums
// cover: both addresses, the protocol and the upper-layer length (RFC 768 for
// IPv4, RFC 8200 section 8.1 for IPv6; both sum to the same words).
std::uint16_t pseudo_header_sum(const IpAddress& source, const IpAddress& destination,
                                std::uint8_t protocol, std::uint32_t length);

// The checksum field value for data whose folded sum is `sum`.
inline std::uint16_t finish(std::uint16_t sum) { return static_cast<std::uint16_t>(~sum); }

// RFC 1624 eqn. 3: the checksum after the covered bytes `before` became
// `after` (equal, even lengths: a 16-bit port, a 32-bit IPv4 or a 128-bit IPv6
// address), without touching the rest of the data.
std::uint16_t update(std::uint16_t checksum, std::span<const std::uint8_t> before,
                     std::span<const std::uint8_t> after);
std::uint16_t update16(std::uint16_t checksum, std::uint16_t before, std::uint16_t after);

// CRC32c (Castagnoli, RFC 3309) of `bytes`: initial value and final xor all
// ones, reflected, as SCTP computes it (RFC 9260 appendix A).
std::uint32_t crc32c(std::span<const std::uint8_t> bytes);

}  // namespace verdictd::checksum
