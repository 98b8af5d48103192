// Whether a packet that misses the flow table needs the kernel asked about
// it (a ctnetlink get), so that a flood of random sources costs bounded work.
//
// The mirror holds every connection the kernel has confirmed once a full dump
// of the kernel's table has been merged, as long as no event was lost since
// (an overrun awaits its resync) and the table has dropped none of them
// (evicted or refused when full), and once it has applied every event the
// kernel queued before the packet arrived. The kernel then has no connection
// for the packet either, and none is asked. Otherwise a get may find one —
// after an overrun, with events not yet read, with a full table — and is
// asked, but no more often than a budget allows: past it the packet is
// decided from the table alone, as if the kernel had said no.
#pragma once

#include <atomic>
#include <cstdint>

#include "conntrack/flow.hpp"
#include "conntrack/token_bucket.hpp"

namespace verdictd {

enum class MissAnswer : std::uint8_t {
  kAbsent,      // the mirror knows the kernel has no such connection
  kAsk,         // the kernel may have one: ask
  kOverBudget,  // the kernel may have one, but the budget for asking is spent
};

// Gets a second allowed for misses the mirror cannot answer, and how many
// may come at once (a token bucket).
struct MissBudget {
  double per_second = 1000;
  double burst = 200;
};

class MissPolicy {
 public:
  explicit MissPolicy(MissBudget budget = {}) : budget_(budget.per_second, budget.burst) {}

  // The mirror thread's news. A full dump of the kernel's table was merged;
  // `losses_before` and `losses_after`: the table's count of dropped flows
  // (FlowTable: evicted + refused) when it began and when it ended.
  void dumped(std::uint64_t losses_before, std::uint64_t losses_after);
  // Events were lost (ENOBUFS), or the mirror stopped following the kernel.
  void lost_events() { complete_.store(false); }

  // Whether the table holds every connection the kernel had confirmed when
  // the mirror last read its events; `table_losses` as below.
  [[nodiscard]] bool complete(std::uint64_t table_losses) const;

  // Thread-safe. `table_losses`: the table's count of dropped flows now;
  // `events_applied()`: whether every event queued until now has been
  // applied (called only when the rest says the mirror is complete).
  template <class EventsApplied>
  MissAnswer decide(std::uint64_t table_losses, EventsApplied&& events_applied, ConntrackTime now) {
    if (complete(table_losses) && events_applied()) return MissAnswer::kAbsent;
    return budget_.take(now) ? MissAnswer::kAsk : MissAnswer::kOverBudget;
  }

 private:
  TokenBucket budget_;
  std::atomic<bool> complete_{false};
  std::atomic<std::uint64_t> losses_at_dump_{0};
};

}  // namespace verdictd
