#include "conntrack/token_bucket.hpp"

#include <algorithm>
#include <chrono>

namespace verdictd {

void TokenBucket::refill(ConntrackTime now) {
  if (now <= refilled_) return;
  const std::chrono::duration<double> elapsed = now - refilled_;
  tokens_ = std::min(burst_, tokens_ + elapsed.count() * per_second_);
  refilled_ = now;
}

bool TokenBucket::take(ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool TokenBucket::available(ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  refill(now);
  return tokens_ >= 1;
}

void TokenBucket::charge(double amount) {
  const std::lock_guard lock(mutex_);
  tokens_ -= amount;
}

}  // namespace verdictd
