#include "ruleset/rule_state.hpp"

#include <deque>
#include <string_view>
#include <unordered_map>

#include "set/set_declaration.hpp"

namespace verdictd {

namespace {

// The rule's extensions in slot order: its matches, then its target.
template <class Visit>
void for_each_extension(const Rule& rule, Visit visit) {
  for (std::size_t i = 0; i < rule.matches.size(); ++i) visit(i, *rule.matches[i]);
  if (rule.target) visit(rule.matches.size(), *rule.target);
}

}  // namespace

RulesetState::RulesetState(const Ruleset& ruleset, const RulesetInForce* previous) {
  const RulesetState* previous_state = previous != nullptr ? previous->state.get() : nullptr;
  make_sets(ruleset, previous);
  for (TableId id : kAllTables) {
    std::unordered_map<std::string_view, std::size_t> old_chains;
    if (previous != nullptr) {
      const std::vector<Chain>& chains = previous->ruleset->table(id).chains;
      for (std::size_t c = 0; c < chains.size(); ++c) old_chains.emplace(chains[c].name, c);
    }
    std::vector<ChainState>& states = tables_[static_cast<std::size_t>(id)];
    for (const Chain& chain : ruleset.table(id).chains) {
      ChainState& state = states.emplace_back();
      // The unchanged rules' state by identity, the nth identical rule's nth.
      std::unordered_map<std::string_view, std::deque<std::shared_ptr<RuleState>>> unclaimed;
      if (const auto found = old_chains.find(chain.name); found != old_chains.end()) {
        const Chain& old_chain = previous->ruleset->table(id).chains[found->second];
        const ChainState& old_state = previous_state->chain(id, found->second);
        state.policies = old_state.policies;
        for (std::size_t r = 0; r < old_chain.rules.size(); ++r) {
          unclaimed[old_chain.rules[r].identity].push_back(old_state.rules[r]);
        }
      } else {
        for (auto& policy : state.policies) policy = std::make_shared<Counters>();
      }
      state.rules.reserve(chain.rules.size());
      for (const Rule& rule : chain.rules) {
        const auto carried = unclaimed.find(rule.identity);
        if (carried == unclaimed.end() || carried->second.empty()) {
          state.rules.push_back(make_rule_state(rule, previous_state));
          continue;
        }
        state.rules.push_back(std::move(carried->second.front()));
        carried->second.pop_front();
        claim_names(rule, *state.rules.back());
      }
    }
  }
}

std::shared_ptr<RuleState> RulesetState::make_rule_state(const Rule& rule,
                                                         const RulesetState* previous) {
  auto state = std::make_shared<RuleState>();
  bool stateful = false;
  std::vector<std::shared_ptr<ExtensionState>> slots(rule.matches.size() + 1);
  for_each_extension(rule, [&](std::size_t index, const StatefulExtension& extension) {
    slots[index] = make_slot(extension, previous);
    stateful = stateful || slots[index] != nullptr;
  });
  if (stateful) state->slots = std::move(slots);
  return state;
}

void RulesetState::make_sets(const Ruleset& ruleset, const RulesetInForce* previous) {
  // The live state of `declaration` in `previous`, while it is unchanged.
  const auto kept =
      [previous](const SetDeclaration& declaration) -> std::shared_ptr<ExtensionState> {
    if (previous == nullptr) return nullptr;
    const SetDeclaration* old = find_set(previous->ruleset->sets, declaration.name);
    const auto found = previous->state->named_.find(set_state_name(declaration.name));
    if (old == nullptr || old->identity != declaration.identity ||
        found == previous->state->named_.end()) {
      return nullptr;
    }
    return found->second;
  };
  for (const auto& declaration : ruleset.sets) {
    if (declaration->list) continue;
    std::shared_ptr<ExtensionState> live = kept(*declaration);
    named_.emplace(set_state_name(declaration->name),
                   live ? std::move(live) : declaration->contents->clone());
  }
  // A list:set is made afresh on the sets just made: its members as they
  // were while it is unchanged (less those no longer declared), else as
  // declared.
  for (const auto& declaration : ruleset.sets) {
    if (!declaration->list) continue;
    const auto old = std::dynamic_pointer_cast<ListSet>(kept(*declaration));
    auto list = std::make_shared<ListSet>(declaration->name, declaration->list->options);
    const auto live_set = [this](const std::string& name) -> std::shared_ptr<IpSet> {
      const auto found = named_.find(set_state_name(name));
      return found == named_.end() ? nullptr : std::dynamic_pointer_cast<IpSet>(found->second);
    };
    const SetTime now = set_clock_now();
    if (old) {
      for (ListSet::Member member : old->members(now)) {
        member.set = live_set(member.name);
        if (member.set) list->restore(std::move(member));
      }
    } else {
      for (const ListMemberSpec& spec : declaration->list->members) {
        if (auto set = live_set(spec.name)) list->add(std::move(set), spec, {}, false, now);
      }
    }
    named_.emplace(set_state_name(declaration->name), std::move(list));
  }
}

std::shared_ptr<ExtensionState> RulesetState::make_slot(const StatefulExtension& extension,
                                                        const RulesetState* previous) {
  if (const auto* user = dynamic_cast<const UsesSets*>(&extension)) {
    auto bound = std::make_shared<BoundSets>();
    for (const std::string& set : user->set_names()) {
      const std::shared_ptr<ExtensionState>& live = named_.at(set_state_name(set));
      bound->sets.push_back(std::dynamic_pointer_cast<IpSet>(live));
      bound->lists.push_back(std::dynamic_pointer_cast<ListSet>(live));
    }
    return bound;
  }
  const std::optional<StateName> name = extension.state_name();
  if (!name) return extension.make_state();
  std::shared_ptr<ExtensionState>& named = named_[*name];
  if (named) return named;
  if (previous != nullptr) {
    if (const auto kept = previous->named_.find(*name); kept != previous->named_.end()) {
      named = kept->second;
      return named;
    }
  }
  named = extension.make_state();
  return named;
}

void RulesetState::claim_names(const Rule& rule, const RuleState& carried) {
  for_each_extension(rule, [&](std::size_t index, const StatefulExtension& extension) {
    if (const std::optional<StateName> name = extension.state_name()) {
      named_.try_emplace(*name, carried.slots[index]);
    }
  });
}

void RulesetState::zero_counters() const {
  for (const std::vector<ChainState>& chains : tables_) {
    for (const ChainState& chain : chains) {
      for (const auto& policy : chain.policies) policy->zero();
      for (const auto& rule : chain.rules) rule->counters.zero();
    }
  }
}

}  // namespace verdictd
