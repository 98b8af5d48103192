#include "set/set_declaration.hpp"

#include <algorithm>

#include "extension/error.hpp"

namespace verdictd {

namespace {

thread_local const SetDeclarations* current_sets = nullptr;

}  // namespace

const SetDeclaration* find_set(const SetDeclarations& sets, std::string_view name) {
  const auto found =
      std::find_if(sets.begin(), sets.end(), [name](const auto& set) { return set->name == name; });
  return found == sets.end() ? nullptr : found->get();
}

const SetDeclarations* sets_in_scope() { return current_sets; }

SetsInScope::SetsInScope(const SetDeclarations& sets) : previous_(current_sets) {
  current_sets = &sets;
}

SetsInScope::~SetsInScope() { current_sets = previous_; }

}  // namespace verdictd

namespace verdictd {

const SetDeclaration& declared_set(std::string_view name, const std::string& pointer) {
  const SetDeclarations* sets = sets_in_scope();
  const SetDeclaration* found = sets == nullptr ? nullptr : find_set(*sets, name);
  if (found != nullptr) return *found;
  std::string names;
  if (sets != nullptr) {
    for (const auto& set : *sets) names += (names.empty() ? "" : ", ") + set->name;
  }
  throw FieldError("no set named \"" + std::string(name) + "\"; the ruleset's \"sets\" declare " +
                       (names.empty() ? std::string("none") : names),
                   pointer);
}

}  // namespace verdictd
