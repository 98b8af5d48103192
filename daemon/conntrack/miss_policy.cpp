#include "conntrack/miss_policy.hpp"

namespace verdictd {

void MissPolicy::dumped(std::uint64_t losses_before, std::uint64_t losses_after) {
  losses_at_dump_.store(losses_after);
  // A flow dropped while the dump was merged may be the kernel's.
  complete_.store(losses_before == losses_after);
}

bool MissPolicy::complete(std::uint64_t table_losses) const {
  return complete_.load() && table_losses == losses_at_dump_.load();
}

}  // namespace verdictd
