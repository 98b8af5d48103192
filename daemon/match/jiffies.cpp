#include "match/jiffies.hpp"

#include <chrono>

namespace verdictd {

Jiffies jiffies_now() {
  const auto since = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<Jiffies>(std::chrono::duration_cast<std::chrono::nanoseconds>(since).count()) /
         (1'000'000'000 / kHz);
}

}  // namespace verdictd
