// The daemon's side of tracing. Who follows packets: each `verdictctl trace`
// client is a Follower with a reader bit (extension/packet_trace.hpp) and,
// when it gave a filter, a selector; one without a filter follows the
// packets the ruleset's TRACE rules mark. Which packets a later hook must
// know again as traced: the kernel keeps skb->nf_trace on the packet from
// hook to hook, but NFQUEUE hands each hook's packets over apart, so the hub
// remembers a traced packet's fingerprint (trace_fingerprint) for a moment.
// And the records: each trace, as JSON, queued for the followers it is for.
//
// The packet path asks active() first: one relaxed load when nobody follows.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "extension/packet_trace.hpp"
#include "pipeline/trace_selector.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

class TraceHub;

// One client's queue of trace records (JSON text, a line each).
class TraceFollower {
 public:
  // Records not taken: the oldest are dropped beyond this, and counted.
  static constexpr std::size_t kMaxQueued = 4096;

  // The next records, waiting up to `wait` for one; empty if none came.
  std::vector<std::string> take(std::chrono::milliseconds wait);
  // Records dropped because the client did not take them in time.
  [[nodiscard]] std::uint64_t lost() const;

 private:
  friend class TraceHub;
  void push(const std::string& record);

  // Lock order: daemon/LOCKING.md.
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> queued_;
  std::uint64_t lost_ = 0;
};

class TraceHub {
 public:
  // Followers at once: a bit each in PacketTrace::readers, beside the TRACE rules'.
  static constexpr std::size_t kMaxFollowers = 63;
  // How long a traced packet is known again at a later hook.
  static constexpr std::chrono::milliseconds kCarried{1000};

  // The selections in force, and the selectors they point to.
  struct Selections {
    std::vector<std::shared_ptr<const TraceSelector>> selectors;
    std::vector<TraceSelection> list;
  };

  // A follower of the packets `selector` selects, or of those TRACE rules
  // mark when it is null, until unfollow(). Throws std::runtime_error when
  // kMaxFollowers already follow.
  std::shared_ptr<TraceFollower> follow(std::shared_ptr<const TraceSelector> selector);
  void unfollow(const std::shared_ptr<TraceFollower>& follower);

  [[nodiscard]] bool active() const { return active_.load(std::memory_order_relaxed); }

  // For the packet path, when active(), under one lock: the selections to
  // try on a packet entering a hook, and who already follows it from an
  // earlier hook.
  struct Arrival {
    std::shared_ptr<const Selections> selections;
    std::uint64_t carried_readers = 0;
  };
  [[nodiscard]] Arrival arrival(std::uint64_t fingerprint,
                                std::chrono::steady_clock::time_point now) const;
  // After the hook: the record to the followers it is for, and an accepted
  // packet remembered for the next hooks.
  void publish(const PacketTrace& trace, const Ruleset& ruleset, std::uint64_t fingerprint,
               std::chrono::steady_clock::time_point now);

 private:
  struct Following {
    std::shared_ptr<TraceFollower> follower;
    std::shared_ptr<const TraceSelector> selector;  // null: the TRACE rules' packets
    std::uint64_t reader = 0;
  };
  struct Carried {
    std::uint64_t fingerprint = 0;
    std::uint64_t readers = 0;
    std::chrono::steady_clock::time_point until;
  };
  static constexpr std::size_t kCarriedSlots = 1024;

  // After a change of followers; holds mutex_.
  void rebuild_selections_locked();

  // Lock order: daemon/LOCKING.md.
  mutable std::mutex mutex_;
  std::vector<Following> following_;
  std::shared_ptr<const Selections> selections_ = std::make_shared<Selections>();
  std::atomic<bool> active_{false};
  std::array<Carried, kCarriedSlots> carried_{};
};

}  // namespace verdictd
