// The kernel's tick count as the rate matches (limit, hashlimit, recent)
// read it: their arithmetic is in jiffies, so the same packets at the same
// times give the same verdicts only when counted at the same granularity.
#pragma once

#include <cstdint>

namespace verdictd {

// CONFIG_HZ of the Debian kernels verdictd runs beside (CONFIG_HZ_250).
inline constexpr std::uint64_t kHz = 250;

using Jiffies = std::uint64_t;

// Ticks of the monotonic clock since an arbitrary start, kHz per second.
Jiffies jiffies_now();

// The kernel's time_after(a, b): a is later than b, across a wrap.
constexpr bool time_after(Jiffies a, Jiffies b) { return static_cast<std::int64_t>(b - a) < 0; }

}  // namespace verdictd
