#include "extension/build_extensions.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/values.hpp"
#include "packet/protocol_names.hpp"
#include "text/json_position.hpp"

namespace verdictd {

namespace {

std::string_view without_negation(std::string_view written) {
  return written.substr(written.starts_with('!') ? 1 : 0);
}

std::string json_text(std::string_view s) { return Json(std::string(s)).dump(); }

// `what` of `list` as "a", "b" or "c".
std::string alternatives(const std::vector<std::string>& list) {
  std::string text;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i != 0) text += i + 1 == list.size() ? " or " : ", ";
    text += list[i];
  }
  return text;
}

bool allows_protocol(const MatchSpec& spec, std::optional<std::uint8_t> protocol) {
  if (spec.protocols.empty()) return true;
  return protocol &&
         std::find(spec.protocols.begin(), spec.protocols.end(), *protocol) != spec.protocols.end();
}

const OptionSpec& option_of(std::span<const OptionSpec> options, std::string_view key) {
  return *std::find_if(options.begin(), options.end(),
                       [key](const OptionSpec& o) { return o.key == key; });
}

// The module that takes `key` written with `value` in a rule of `protocol`:
// the one -p implies (tcp's dport for -p tcp), else a module of its own
// (multiport for a list of ports). Throws when none can.
const MatchSpec& owner_of(std::string_view key, const Json& value,
                          std::optional<std::uint8_t> protocol) {
  const std::vector<const MatchSpec*> owners = matches_with_key(key);
  if (owners.empty()) throw FieldError("unknown match " + json_text(key));
  const auto takes_shape = [&](const MatchSpec* spec) {
    const OptionSpec& option = option_of(spec->options, key);
    return !value.is_array() || (option.type != nullptr && option.type->takes_list());
  };
  for (const bool implied : {true, false}) {
    for (const MatchSpec* spec : owners) {
      if (spec->implied == implied && takes_shape(spec) && allows_protocol(*spec, protocol)) {
        return *spec;
      }
    }
  }
  std::vector<std::uint8_t> needed;  // in the order the owners list them
  for (const MatchSpec* spec : owners) {
    if (!takes_shape(spec)) continue;
    for (std::uint8_t p : spec->protocols) {
      if (std::find(needed.begin(), needed.end(), p) == needed.end()) needed.push_back(p);
    }
  }
  std::vector<std::string> names;
  names.reserve(needed.size());
  for (std::uint8_t p : needed) names.push_back(json_text(protocol_name(p)));
  // No owner takes a list: the value type says what it expected.
  if (names.empty()) {
    const OptionSpec& option = option_of(owners.front()->options, key);
    if (option.type != nullptr) static_cast<void>(option.type->parse(value));
    throw FieldError(std::string(key) + " does not take a list");
  }
  throw FieldError(std::string(key) + " needs \"protocol\": " + alternatives(names) +
                   " in the same rule");
}

void check_constraints(std::span<const Constraint> constraints,
                       const std::vector<OptionValue>& given, const std::string& where) {
  for (const Constraint& c : constraints) {
    std::vector<std::string> keys;
    std::size_t present = 0;
    std::string_view rest = c.keys;
    while (!rest.empty()) {
      const auto space = rest.find(' ');
      const std::string_view key = rest.substr(0, space);
      keys.push_back(json_text(key));
      present += static_cast<std::size_t>(std::any_of(
          given.begin(), given.end(), [key](const OptionValue& v) { return v.spec->key == key; }));
      rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
    }
    if (c.kind == Constraint::Kind::kAtLeastOne) {
      if (present == 0) throw FieldError(where + "needs at least one of " + alternatives(keys));
      continue;
    }
    if (present > 1) {
      throw FieldError(where + "takes at most one of " + alternatives(keys));
    }
    if (c.kind == Constraint::Kind::kExactlyOne && present == 0) {
      throw FieldError(where + "needs one of " + alternatives(keys));
    }
  }
}

void check_mandatory(std::span<const OptionSpec> options, const std::vector<OptionValue>& given,
                     const std::string& where) {
  for (const OptionSpec& option : options) {
    if (!option.mandatory) continue;
    const bool present = std::any_of(given.begin(), given.end(),
                                     [&](const OptionValue& v) { return v.spec == &option; });
    if (!present) throw FieldError(where + "needs " + json_text(option.key));
  }
}

// In description order, as iptables-save prints them.
void sort_by_description(std::span<const OptionSpec> options, std::vector<OptionValue>& values) {
  std::sort(values.begin(), values.end(), [&](const OptionValue& a, const OptionValue& b) {
    return a.spec - options.data() < b.spec - options.data();
  });
}

OptionValue parse_option(const OptionSpec& spec, const Json& value, bool negated);

// The members of an object-valued option.
std::vector<OptionValue> parse_members(std::span<const OptionSpec> members,
                                       std::span<const Constraint> constraints, const Json& object,
                                       const std::string& where) {
  std::string names;
  for (const OptionSpec& m : members) names += (names.empty() ? "" : ", ") + std::string(m.key);
  if (!object.is_object()) {
    throw FieldError("expected an object with " + names + ", got " + object.dump());
  }
  std::vector<OptionValue> values;
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    const Json& member_value = item.value();
    const auto spec = std::find_if(members.begin(), members.end(),
                                   [&key](const OptionSpec& m) { return m.key == key; });
    if (spec == members.end()) {
      throw FieldError("unknown key " + json_text(key) + "; expected " + names,
                       "/" + json_pointer_token(key));
    }
    try {
      values.push_back(parse_option(*spec, member_value, false));
    } catch (FieldError& e) {
      e.pointer_suffix = "/" + json_pointer_token(key) + e.pointer_suffix;
      throw;
    }
  }
  check_mandatory(members, values, where);
  check_constraints(constraints, values, where);
  sort_by_description(members, values);
  return values;
}

OptionValue parse_option(const OptionSpec& spec, const Json& value, bool negated) {
  OptionValue parsed;
  parsed.spec = &spec;
  parsed.negated = negated;
  if (spec.type != nullptr) {
    parsed.value = spec.type->parse(value);
  } else {
    parsed.members = parse_members(spec.members, {}, value, json_text(spec.key) + " ");
  }
  return parsed;
}

bool is_header(const MatchSpec& spec) { return spec.name.empty(); }

// Targets of the kernel that a verdict over NFQUEUE cannot carry out, and
// why: the loader names the reason rather than calling them unknown.
struct RefusedTarget {
  std::string_view name;
  std::string_view reason;
};
constexpr std::array<RefusedTarget, 4> kRefusedTargets = {{
    {"CLASSIFY",
     "sets the packet's priority (skb->priority), which verdictd's NFQUEUE verdict does not "
     "carry (it carries the verdict, the mark and the packet)"},
    {"SECMARK",
     "sets the packet's SELinux security mark (skb->secmark), which an NFQUEUE verdict cannot "
     "set"},
    {"CONNSECMARK",
     "copies the SELinux security mark between the packet and its connection, which neither an "
     "NFQUEUE verdict nor ctnetlink can set"},
    {"TEE",
     "sends a copy of the packet to another gateway, which an NFQUEUE verdict, deciding the fate "
     "of the one packet, cannot do"},
}};

std::string unknown_target(const std::string& name) {
  for (const RefusedTarget& refused : kRefusedTargets) {
    if (refused.name == name) {
      return "target " + name + " is not supported: it " + std::string(refused.reason);
    }
  }
  return "unknown target " + json_text(name);
}

struct PendingModule {
  const MatchSpec* spec;
  std::string first_key;  // as written
  std::vector<OptionValue> values;
};

}  // namespace

std::optional<std::uint8_t> rule_protocol(const Json& match_object) {
  const auto it = match_object.find("protocol");
  if (it == match_object.end()) return std::nullopt;
  return protocol_number(*it);
}

std::vector<BuiltMatch> build_matches(const Json& match_object, TableId table) {
  const BuildContext context{table, rule_protocol(match_object)};
  std::vector<PendingModule> modules;
  for (const auto& [written_key, value] : match_object.items()) {
    const std::string suffix = "/" + json_pointer_token(written_key);
    const bool negated = written_key.starts_with('!');
    const std::string_view key = without_negation(written_key);
    try {
      const MatchSpec& spec = owner_of(key, value, context.protocol);
      const OptionSpec& option = option_of(spec.options, key);
      if (negated && !option.negatable) throw FieldError(json_text(key) + " cannot be negated");
      // The rule's fields are each checked on their own, as ipt_entry's.
      auto module = std::find_if(modules.begin(), modules.end(), [&](const PendingModule& m) {
        return m.spec == &spec && !is_header(spec);
      });
      if (module == modules.end()) {
        modules.push_back({&spec, written_key, {}});
        module = std::prev(modules.end());
      }
      // "ctstate" and "!ctstate": iptables takes each option of a module once.
      if (std::any_of(module->values.begin(), module->values.end(),
                      [&option](const OptionValue& v) { return v.spec == &option; })) {
        throw FieldError(json_text(key) + " is already in this rule: a rule has one " +
                         std::string(spec.name) + " match, with each option once");
      }
      module->values.push_back(parse_option(option, value, negated));
    } catch (FieldError& e) {
      e.pointer_suffix = suffix + e.pointer_suffix;
      throw;
    }
  }
  std::stable_partition(modules.begin(), modules.end(),
                        [](const PendingModule& m) { return is_header(*m.spec); });
  std::vector<BuiltMatch> built;
  built.reserve(modules.size());
  for (PendingModule& module : modules) {
    const MatchSpec& spec = *module.spec;
    const std::string first_suffix = "/" + json_pointer_token(module.first_key);
    try {
      const std::string where = "-m " + std::string(spec.name) + " ";
      check_mandatory(spec.options, module.values, where);
      check_constraints(spec.constraints, module.values, where);
      sort_by_description(spec.options, module.values);
      OptionValues options(std::move(module.values));
      std::unique_ptr<Match> match = spec.build(options, context);
      match->describe(spec, std::move(options));
      built.push_back({std::move(match), module.first_key});
    } catch (FieldError& e) {
      e.pointer_suffix = first_suffix + e.pointer_suffix;
      throw;
    }
  }
  return built;
}

std::unique_ptr<Target> build_target(const Json& value, const Json& match_object, TableId table) {
  std::string name;
  static const Json kNoOptions = Json::object();
  const Json* options = &kNoOptions;
  std::string suffix;
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object() && value.size() == 1) {
    name = value.begin().key();
    options = &value.begin().value();
    suffix = "/" + json_pointer_token(name);
  } else {
    throw FieldError("expected a target name or {\"NAME\": {options}}, got " + value.dump());
  }
  const TargetSpec* spec = find_target(name);
  try {
    if (spec == nullptr) throw FieldError(unknown_target(name));
    if (!spec->tables.empty() &&
        std::find(spec->tables.begin(), spec->tables.end(), table) == spec->tables.end()) {
      throw FieldError("the " + std::string(table_name(table)) + " table does not allow " + name);
    }
    if (spec->options.empty() && !value.is_string()) {
      throw_expected("no options (write \"" + name + "\" as a string)", *options);
    }
    const std::string where = name + " ";
    OptionValues parsed(parse_members(spec->options, spec->constraints, *options, where));
    const BuildContext context{table, rule_protocol(match_object), &match_object};
    std::unique_ptr<Target> target = spec->build(parsed, context);
    target->describe(*spec, std::move(parsed));
    return target;
  } catch (FieldError& e) {
    e.pointer_suffix = suffix + e.pointer_suffix;
    throw;
  }
}

}  // namespace verdictd
