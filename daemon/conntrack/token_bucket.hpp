// A budget of work a second: `per_second` tokens come each second, at most
// `burst` wait at once. Thread-safe.
#pragma once

#include <mutex>

#include "conntrack/flow.hpp"

namespace verdictd {

class TokenBucket {
 public:
  TokenBucket(double per_second, double burst)
      : per_second_(per_second), burst_(burst), tokens_(burst) {}

  // One token; false when the budget is spent.
  bool take(ConntrackTime now);
  // Whether a token is left, without taking it.
  bool available(ConntrackTime now);
  // Work measured after it was done: `amount` tokens, the budget going into
  // debt if need be (paid back by the next refills).
  void charge(double amount);

 private:
  void refill(ConntrackTime now);  // under mutex_

  double per_second_;
  double burst_;
  // Lock order: daemon/LOCKING.md.
  std::mutex mutex_;
  double tokens_;
  ConntrackTime refilled_{};
};

}  // namespace verdictd
