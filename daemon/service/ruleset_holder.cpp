#include "service/ruleset_holder.hpp"

#include "ruleset/loader.hpp"

namespace verdictd {

std::shared_ptr<const Ruleset> RulesetHolder::reload(const std::string& path) {
  std::lock_guard lock(reload_mutex_);
  std::shared_ptr<Ruleset> next;
  try {
    next = load_ruleset_file(path);
  } catch (const RulesetError& e) {
    last_error_ = e.what();
    throw;
  }
  carry_counters(*snapshot(), *next);
  current_.store(next, std::memory_order_release);
  last_error_.clear();
  return next;
}

std::string RulesetHolder::last_error() const {
  std::lock_guard lock(reload_mutex_);
  return last_error_;
}

}  // namespace verdictd
