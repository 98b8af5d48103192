#include "service/ruleset_holder.hpp"

#include <optional>

#include "ruleset/loader.hpp"

namespace verdictd {

RulesetHolder::RulesetHolder(std::shared_ptr<const Ruleset> initial) {
  auto state = std::make_shared<RulesetState>(*initial);
  current_.store(std::make_shared<const RulesetInForce>(
      RulesetInForce{.ruleset = std::move(initial), .state = std::move(state)}));
}

std::string RulesetHolder::reload(const std::function<JsonDocument()>& read,
                                  const std::function<void(const Ruleset&)>& before_swap,
                                  const std::function<void(const std::string& text)>& after_swap,
                                  const std::function<void(std::string)>& stage) {
  const std::lock_guard reloading(reload_mutex_);
  std::string error;
  std::optional<JsonDocument> document;
  try {
    document.emplace(read());
    const std::shared_ptr<const Ruleset> next = load_ruleset_document(*document);
    stage("carrying the rules' counters and state over");
    auto state = std::make_shared<RulesetState>(*next, in_force().get());
    before_swap(*next);
    stage("swapping the ruleset in");
    current_.store(std::make_shared<const RulesetInForce>(
                       RulesetInForce{.ruleset = next, .state = std::move(state)}),
                   std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  } catch (const std::exception& e) {
    error = e.what();
  }
  {
    const std::lock_guard recording(outcome_mutex_);
    last_reload_ = {true, error};
  }
  if (error.empty()) after_swap(document->text());
  return error;
}

ReloadOutcome RulesetHolder::last_reload() const {
  const std::lock_guard lock(outcome_mutex_);
  return last_reload_;
}

}  // namespace verdictd
