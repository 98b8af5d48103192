// xt_limit's token bucket, in the kernel's units: credits are jiffies times
// CREDITS_PER_JIFFY in 32 bits, so the same packets at the same jiffies pass
// or fail as they do in the kernel, rounding and wrap-around included.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "extension/extension_state.hpp"
#include "match/jiffies.hpp"

namespace verdictd {

// The rate and burst as iptables hands them to the kernel: `period` is the
// time between two packets in 1/kLimitScale seconds (XT_LIMIT_SCALE).
inline constexpr std::uint32_t kLimitScale = 10000;

// The largest power of two that spreads a day of jiffies over 32 bits
// (xt_limit's CREDITS_PER_JIFFY: 128 at HZ 250).
std::uint32_t limit_credits_per_jiffy();

// A user value (period, or period times burst) in credits, as xt_limit's
// user2credits: divided first when multiplying would overflow 32 bits.
std::uint32_t limit_user_to_credits(std::uint32_t user);

// The bucket's size and a packet's cost; nullopt where limit_mt_check
// refuses the pair (a burst of 0, or one whose credits overflow).
struct LimitCredits {
  std::uint32_t cap = 0;
  std::uint32_t cost = 0;
};
std::optional<LimitCredits> limit_credits(std::uint32_t period, std::uint32_t burst);

// One rule's bucket: it starts full at the jiffy it is made.
class LimitBucket final : public ExtensionState {
 public:
  LimitBucket(LimitCredits credits, Jiffies now)
      : credits_(credits), credit_(credits.cap), prev_(now) {}

  // limit_mt: credits for the jiffies since the last packet (in 32 bits, as
  // the kernel adds them), capped, then one packet's cost if there is enough.
  bool take(Jiffies now);

 private:
  const LimitCredits credits_;
  std::mutex mutex_;  // The kernel's cmpxchg loop; a leaf lock (daemon/LOCKING.md).
  std::uint32_t credit_;
  Jiffies prev_;
};

}  // namespace verdictd
