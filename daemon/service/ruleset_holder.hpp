// The ruleset in force. Packets take a snapshot once and are evaluated
// entirely against it; a reload builds and checks the new ruleset whole, then
// swaps it in atomically, or leaves the old one in force.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "ruleset/model.hpp"

namespace verdictd {

class RulesetHolder {
 public:
  explicit RulesetHolder(std::shared_ptr<const Ruleset> initial) : current_(std::move(initial)) {}

  [[nodiscard]] std::shared_ptr<const Ruleset> snapshot() const {
    return current_.load(std::memory_order_acquire);
  }

  // Loads `path`; on success carries the counters of unchanged rules, swaps,
  // and returns the new ruleset. On error throws RulesetError and changes nothing.
  std::shared_ptr<const Ruleset> reload(const std::string& path);

  // The outcome of the last reload, for status: "" when it succeeded or none ran.
  [[nodiscard]] std::string last_error() const;

 private:
  std::atomic<std::shared_ptr<const Ruleset>> current_;
  mutable std::mutex reload_mutex_;  // one reload at a time (signal and control socket)
  std::string last_error_;
};

}  // namespace verdictd
