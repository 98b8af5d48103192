#include "match/limit_bucket.hpp"

namespace verdictd {

namespace {

constexpr std::uint32_t kSecondsPerDay = 60 * 60 * 24;

constexpr std::uint32_t power_of_two_at_most(std::uint32_t value) {
  std::uint32_t power = 1;
  while (power <= value / 2) power *= 2;
  return power;
}

constexpr std::uint32_t kCreditsPerJiffy =
    power_of_two_at_most(0xffffffffU / (static_cast<std::uint32_t>(kHz) * kSecondsPerDay));
constexpr std::uint32_t kCreditsPerSecond = static_cast<std::uint32_t>(kHz) * kCreditsPerJiffy;

}  // namespace

std::uint32_t limit_credits_per_jiffy() { return kCreditsPerJiffy; }

std::uint32_t limit_user_to_credits(std::uint32_t user) {
  if (user > 0xffffffffU / kCreditsPerSecond) {
    // 32-bit arithmetic, wrapping as the kernel's does.
    return static_cast<std::uint32_t>((user / kLimitScale) * kCreditsPerSecond);
  }
  return user * kCreditsPerSecond / kLimitScale;
}

std::optional<LimitCredits> limit_credits(std::uint32_t period, std::uint32_t burst) {
  // The product is taken in 32 bits too, as the kernel's r->avg * r->burst.
  const std::uint32_t full = limit_user_to_credits(period * burst);
  const std::uint32_t cost = limit_user_to_credits(period);
  if (burst == 0 || full < cost) return std::nullopt;
  return LimitCredits{.cap = full, .cost = cost};
}

bool LimitBucket::take(Jiffies now) {
  const std::lock_guard lock(mutex_);
  const auto increase = static_cast<std::uint32_t>((now - prev_) * kCreditsPerJiffy);
  prev_ = now;
  std::uint32_t credit = credit_ + increase;
  if (credit > credits_.cap) credit = credits_.cap;
  const bool passes = credit >= credits_.cost;
  if (passes) credit -= credits_.cost;
  credit_ = credit;
  return passes;
}

}  // namespace verdictd
