// A set as the ruleset declares it ("sets": {"NAME": {...}}): its options
// and the elements it starts with, read from the declaration or its file.
// The loaded contents stay as loaded; the state beside the ruleset holds
// the live copy (ruleset/rule_state.hpp), which a reload keeps while the
// declaration, and the file it names, are unchanged.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "set/ip_set.hpp"
#include "set/list_set.hpp"

namespace verdictd {

enum class SetFileFormat : std::uint8_t { kJson, kIpset };

struct SetDeclaration {
  std::string name;
  std::shared_ptr<const IpSet> contents;
  std::string file;  // the elements' file as resolved; empty when inline
  SetFileFormat format = SetFileFormat::kJson;
  // The declaration's JSON and the file's text: equal identities, same set.
  std::string identity;
  // A list:set's size and members; `contents` is then null.
  std::optional<ListDeclaration> list;
};

using SetDeclarations = std::vector<std::shared_ptr<const SetDeclaration>>;

// The declared set named `name` in `sets`, or null.
const SetDeclaration* find_set(const SetDeclarations& sets, std::string_view name);

// The sets of the ruleset being built, for the set match and SET target to
// check their names against. The loader installs them for the build (in
// this thread) with a SetsInScope; null outside a build.
const SetDeclarations* sets_in_scope();
class SetsInScope {
 public:
  explicit SetsInScope(const SetDeclarations& sets);
  SetsInScope(const SetsInScope&) = delete;
  SetsInScope& operator=(const SetsInScope&) = delete;
  SetsInScope(SetsInScope&&) = delete;
  SetsInScope& operator=(SetsInScope&&) = delete;
  ~SetsInScope();

 private:
  const SetDeclarations* previous_;
};

}  // namespace verdictd

namespace verdictd {

// A match or target that names sets. Its state is the live sets it names,
// in set_names() order (BoundSets), which the state store binds when it
// makes the rule's state. A rule's identity includes the identities of its
// sets, so a rule is carried across a reload only with the very sets it
// was bound to.
class UsesSets {
 public:
  UsesSets() = default;
  UsesSets(const UsesSets&) = delete;
  UsesSets& operator=(const UsesSets&) = delete;
  UsesSets(UsesSets&&) = delete;
  UsesSets& operator=(UsesSets&&) = delete;
  [[nodiscard]] virtual std::vector<std::string> set_names() const = 0;

 protected:
  ~UsesSets() = default;
};

struct BoundSets final : ExtensionState {
  std::vector<std::shared_ptr<IpSet>> sets;     // null for a list:set
  std::vector<std::shared_ptr<ListSet>> lists;  // in the same order; null but for a list:set
};

// The declared set a rule names, or a FieldError at `pointer` naming the
// sets there are.
const SetDeclaration& declared_set(std::string_view name, const std::string& pointer);

// The state store's name of a set's live contents (ruleset/rule_state.hpp).
inline StateName set_state_name(const std::string& name) { return {"set", name}; }

}  // namespace verdictd
