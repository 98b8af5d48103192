// The ruleset in force, with its state. Packets are evaluated entirely
// against one snapshot; a reload builds and checks the new ruleset whole,
// carries over the state of the rules it keeps, then swaps both in
// atomically, or leaves the old one in force and remembers why.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ruleset/json_document.hpp"
#include "ruleset/model.hpp"
#include "ruleset/rule_state.hpp"

namespace verdictd {

struct ReloadOutcome {
  bool ran = false;   // false until the first reload
  std::string error;  // empty when the last reload succeeded
};

class RulesetHolder {
 public:
  explicit RulesetHolder(std::shared_ptr<const Ruleset> initial);

  [[nodiscard]] std::shared_ptr<const RulesetInForce> in_force() const {
    return current_.load(std::memory_order_acquire);
  }
  // The ruleset alone, for what needs no counters.
  [[nodiscard]] std::shared_ptr<const Ruleset> snapshot() const { return in_force()->ruleset; }
  // Changes with every swap, after the new snapshot is in place: a packet
  // path keeps its own snapshot and takes a new one only when this changes.
  [[nodiscard]] std::uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }

  // Loads and validates the document `read` gives (the ruleset file, or
  // one an iptables command changed) whole, gives it the state of the rules
  // it shares with the ruleset in force, runs `before_swap` on it (which refuses
  // it by throwing), then swaps it in and gives `after_swap` the bytes that
  // loaded. Returns "" or the error; on error the ruleset in force stays.
  // `stage` hears what it does as it goes.
  std::string reload(const std::function<JsonDocument()>& read,
                     const std::function<void(const Ruleset&)>& before_swap,
                     const std::function<void(const std::string& text)>& after_swap,
                     const std::function<void(std::string)>& stage);
  [[nodiscard]] ReloadOutcome last_reload() const;

 private:
  std::atomic<std::shared_ptr<const RulesetInForce>> current_;
  std::atomic<std::uint64_t> generation_{1};
  // Lock order: daemon/LOCKING.md.
  std::mutex reload_mutex_;           // one reload at a time (signal and control socket)
  mutable std::mutex outcome_mutex_;  // status reads it while a reload runs
  ReloadOutcome last_reload_;
};

}  // namespace verdictd
