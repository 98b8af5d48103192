#include "conntrack/miss_policy.hpp"

#include <algorithm>
#include <chrono>

namespace verdictd {

void MissPolicy::dumped(std::uint64_t losses_before, std::uint64_t losses_after) {
  losses_at_dump_.store(losses_after);
  // A flow dropped while the dump was merged may be the kernel's.
  complete_.store(losses_before == losses_after);
}

bool MissPolicy::complete(std::uint64_t table_losses) const {
  return complete_.load() && table_losses == losses_at_dump_.load();
}

bool MissPolicy::take(ConntrackTime now) {
  const std::lock_guard lock(budget_mutex_);
  if (now > refilled_) {
    const std::chrono::duration<double> elapsed = now - refilled_;
    tokens_ = std::min(budget_.burst, tokens_ + elapsed.count() * budget_.per_second);
    refilled_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace verdictd
