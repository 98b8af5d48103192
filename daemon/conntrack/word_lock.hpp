// A mutex in one 32-bit word, for the flow table's shards and flows: a
// lookup takes two locks, and std::mutex (40 bytes, a call into pthreads
// each way) would push a flow's hot fields out of its first cache line.
// Uncontended, lock and unlock are one atomic instruction each; a thread
// that finds it held sleeps in the kernel (futex, through C++20's
// atomic wait), so a holder that is preempted costs the others no spinning.
// The three states of Drepper's "Futexes Are Tricky" (mutex 2), as the
// kernel's own futex-based locks: only an unlock that saw a waiter wakes one.
#pragma once

#include <atomic>
#include <cstdint>

namespace verdictd {

class WordLock {
 public:
  void lock() {
    std::uint32_t seen = kFree;
    if (state_.compare_exchange_strong(seen, kHeld, std::memory_order_acquire)) return;
    // Held: say there is a waiter, and sleep until the word changes.
    if (seen != kContended) seen = state_.exchange(kContended, std::memory_order_acquire);
    while (seen != kFree) {
      state_.wait(kContended, std::memory_order_relaxed);
      seen = state_.exchange(kContended, std::memory_order_acquire);
    }
  }

  void unlock() {
    if (state_.exchange(kFree, std::memory_order_release) == kContended) state_.notify_one();
  }

 private:
  static constexpr std::uint32_t kFree = 0;
  static constexpr std::uint32_t kHeld = 1;       // no one waits
  static constexpr std::uint32_t kContended = 2;  // someone may be waiting

  std::atomic<std::uint32_t> state_{kFree};
};

}  // namespace verdictd
