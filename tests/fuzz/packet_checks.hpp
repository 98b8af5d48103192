// What every NAT rewrite must leave behind, checked by the fuzz targets on
// each rewritten packet: it re-parses to the tuple the manipulation asked
// for, nothing else changed, and every checksum that was right still is
// (reference sums from tests/unit/nat_packets.hpp, not daemon/nat/checksum).
// A broken promise aborts with a message, which libFuzzer reports as a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "nat/rewrite.hpp"

namespace verdictd::fuzz {

// Aborts with `what` unless `holds`.
void require(bool holds, const char* what);

// Whether a packet's checksums are right; nullopt where there is none to
// check: no IPv4 header, or no whole, unfragmented transport payload with a
// checksum verdictd rewrites (TCP, UDP, UDP-Lite, SCTP, ICMP over IPv4,
// ICMPv6 over IPv6). A zero UDP checksum over IPv4 (none sent) is right.
struct Checksums {
  std::optional<bool> ip_header;
  std::optional<bool> transport;
};
Checksums checksums_of(std::span<const std::uint8_t> packet);

// Makes every checksum checksums_of checks right (the quote's first, in an
// ICMP error), so that fuzzed packets reach the rewrite's checksum updates.
void seal(std::span<std::uint8_t> packet);

// `after` is `before` rewritten by apply_manip(`manip`, `checksum_partial`),
// which said it succeeded.
void check_rewrite(std::span<const std::uint8_t> before, std::span<const std::uint8_t> after,
                   const NatManip& manip, bool checksum_partial);

// `after` is the ICMP error `before` rewritten by
// apply_manip_to_icmp_error(`outer`, `inner`), which said it succeeded.
void check_icmp_error_rewrite(std::span<const std::uint8_t> before,
                              std::span<const std::uint8_t> after, const NatManip& outer,
                              const NatManip& inner);

}  // namespace verdictd::fuzz
