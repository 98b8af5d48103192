#include "conntrack/token_bucket.hpp"

#include <algorithm>
#include <chrono>

namespace verdictd {

bool TokenBucket::take(ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  if (now > refilled_) {
    const std::chrono::duration<double> elapsed = now - refilled_;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * per_second_);
    refilled_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace verdictd
