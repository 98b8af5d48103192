// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): a keyed pseudo-random function of a short message, as the kernel's
// lib/siphash.c computes it for its conntrack hash (hash_conntrack_raw).
// Without the key no one can choose inputs that collide, so a table indexed
// by it cannot be driven into one bucket by crafted packets.
#pragma once

#include <cstdint>
#include <span>

namespace verdictd {

struct SipKey {
  std::uint64_t k0 = 0;  // the key's bytes 0 to 7, little-endian
  std::uint64_t k1 = 0;  // bytes 8 to 15
};

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> message);

// A key drawn from the kernel's random source (getrandom) once per process.
const SipKey& process_sip_key();

}  // namespace verdictd
