#include "extension/description.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "extension/match.hpp"
#include "extension/target.hpp"

namespace verdictd {

namespace {

std::vector<const MatchSpec*>& match_registry() {
  static std::vector<const MatchSpec*> matches;
  return matches;
}

std::map<std::string, const TargetSpec*, std::less<>>& target_registry() {
  static std::map<std::string, const TargetSpec*, std::less<>> targets;
  return targets;
}

bool has_key(std::span<const OptionSpec> options, std::string_view key) {
  return std::any_of(options.begin(), options.end(),
                     [key](const OptionSpec& o) { return o.key == key; });
}

const OptionSpec* flag_in(std::span<const OptionSpec> options, std::string_view flag) {
  for (const OptionSpec& option : options) {
    const std::vector<std::string_view> names = option_spellings(option);
    if (std::find(names.begin(), names.end(), flag) != names.end()) return &option;
    if (const OptionSpec* member = flag_in(option.members, flag)) return member;
  }
  return nullptr;
}

void save_option(const OptionValue& option, bool negated, std::string& out) {
  const OptionSpec& spec = *option.spec;
  if (spec.save != nullptr) {
    out += spec.save(option);
    return;
  }
  if (spec.type == nullptr) {
    // iptables prints an inverted module's "!" before its first option.
    bool first = true;
    for (const OptionValue& member : option.members) {
      save_option(member, negated && first, out);
      first = false;
    }
    return;
  }
  out += negated ? " ! " : " ";
  out += spec.flag;
  if (std::holds_alternative<bool>(option.value)) return;  // a flag without argument
  out += " " + spec.type->save_text(option.value);
}

}  // namespace

const OptionValue* OptionValues::find(std::string_view key) const {
  for (const OptionValue& v : values_) {
    if (v.spec->key == key) return &v;
  }
  return nullptr;
}

const OptionValue& OptionValues::at(std::string_view key) const {
  const OptionValue* v = find(key);
  if (v == nullptr) throw std::logic_error("option " + std::string(key) + " was not given");
  return *v;
}

bool OptionValues::negated(std::string_view key) const {
  const OptionValue* v = find(key);
  return v != nullptr && v->negated;
}

void register_match(const MatchSpec& spec) {
  auto& matches = match_registry();
  const auto at =
      std::upper_bound(matches.begin(), matches.end(), &spec,
                       [](const MatchSpec* a, const MatchSpec* b) { return a->name < b->name; });
  matches.insert(at, &spec);
}

void register_target(const TargetSpec& spec) { target_registry().emplace(spec.name, &spec); }

std::vector<const MatchSpec*> all_matches() { return match_registry(); }

std::vector<const TargetSpec*> all_targets() {
  std::vector<const TargetSpec*> targets;
  for (const auto& [name, spec] : target_registry()) targets.push_back(spec);
  return targets;
}

const TargetSpec* find_target(std::string_view name) {
  const auto found = target_registry().find(name);
  return found == target_registry().end() ? nullptr : found->second;
}

std::vector<const MatchSpec*> matches_with_key(std::string_view key) {
  std::vector<const MatchSpec*> owners;
  for (const MatchSpec* spec : match_registry()) {
    if (has_key(spec->options, key)) owners.push_back(spec);
  }
  return owners;
}

const MatchSpec* find_match_module(std::string_view name) {
  for (const MatchSpec* spec : match_registry()) {
    if (spec->name == name) return spec;
  }
  return nullptr;
}

std::vector<std::string_view> option_spellings(const OptionSpec& option) {
  std::vector<std::string_view> all;
  if (!option.flag.empty()) all.push_back(option.flag);
  std::string_view rest = option.aliases;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    all.push_back(rest.substr(0, space));
    rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
  }
  return all;
}

const OptionSpec* find_option_by_flag(std::string_view module, std::string_view flag) {
  // Several descriptions may share a module name (the rule's own fields).
  for (const MatchSpec* spec : match_registry()) {
    if (spec->name != module) continue;
    if (const OptionSpec* option = flag_in(spec->options, flag)) return option;
  }
  if (const TargetSpec* target = find_target(module)) return flag_in(target->options, flag);
  return nullptr;
}

std::string save_options(const OptionValues& options) {
  std::string out;
  for (const OptionValue& option : options.all()) save_option(option, option.negated, out);
  return out;
}

void Match::save(SaveLine& line) const {
  line.matches += " -m " + std::string(spec_->name) + save_options(options_);
}

std::string Target::save() const {
  return "-j " + std::string(spec_->name) + save_options(options_);
}

}  // namespace verdictd
