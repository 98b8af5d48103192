#include "ruleset/schema.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "extension/description.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// The schema of an option's value, with its doc.
Json option_schema(const OptionSpec& option, std::span<const Constraint> constraints = {}) {
  Json schema;
  if (option.type != nullptr) {
    schema = option.type->schema();
  } else {
    Json properties = Json::object();
    Json required = Json::array();
    for (const OptionSpec& member : option.members) {
      properties[std::string(member.key)] = option_schema(member);
      if (member.mandatory) required.push_back(member.key);
    }
    schema = Json{{"type", "object"}, {"additionalProperties", false}, {"properties", properties}};
    if (!required.empty()) schema["required"] = required;
    for (const Constraint& c : constraints) {
      if (c.kind == Constraint::Kind::kAtMostOne) continue;
      Json one = Json::array();
      std::string_view rest = c.keys;
      while (!rest.empty()) {
        const auto space = rest.find(' ');
        one.push_back(Json{{"required", Json::array({std::string(rest.substr(0, space))})}});
        rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
      }
      schema[c.kind == Constraint::Kind::kExactlyOne ? "oneOf" : "anyOf"] = one;
    }
  }
  if (!option.doc.empty()) schema["description"] = option.doc;
  return schema;
}

// Every key of a rule's "match" object; a key several modules own (sport)
// takes any of their forms.
Json match_schema() {
  std::map<std::string, std::vector<Json>> forms;  // ordered, for a stable file
  std::map<std::string, bool> negatable;
  for (const MatchSpec* spec : all_matches()) {
    for (const OptionSpec& option : spec->options) {
      std::vector<Json>& known = forms[std::string(option.key)];
      Json schema = option_schema(option);
      if (std::find(known.begin(), known.end(), schema) == known.end()) {
        known.push_back(std::move(schema));
      }
      negatable[std::string(option.key)] |= option.negatable;
    }
  }
  Json properties = Json::object();
  for (const auto& [key, schemas] : forms) {
    const Json schema = schemas.size() == 1 ? schemas.front() : Json{{"anyOf", schemas}};
    properties[key] = schema;
    if (negatable[key]) properties["!" + key] = schema;
  }
  return Json{{"type", "object"}, {"additionalProperties", false}, {"properties", properties}};
}

Json target_schema() {
  Json bare = Json::array();
  Json with_options = Json::object();
  for (const TargetSpec* spec : all_targets()) {
    const bool needs_options =
        std::any_of(spec->options.begin(), spec->options.end(),
                    [](const OptionSpec& o) { return o.mandatory; }) ||
        std::any_of(spec->constraints.begin(), spec->constraints.end(),
                    [](const Constraint& c) { return c.kind != Constraint::Kind::kAtMostOne; });
    if (!needs_options) bare.push_back(spec->name);
    if (spec->options.empty()) continue;
    OptionSpec whole{.key = spec->name, .members = spec->options, .doc = spec->summary};
    with_options[std::string(spec->name)] = option_schema(whole, spec->constraints);
  }
  return Json{{"oneOf", Json::array({Json{{"enum", bare}}, Json{{"type", "object"},
                                                                {"minProperties", 1},
                                                                {"maxProperties", 1},
                                                                {"additionalProperties", false},
                                                                {"properties", with_options}}})}};
}

Json families_schema() {
  const Json names = Json::array({"ipv4", "ipv6"});
  return Json{{"oneOf", Json::array({Json{{"enum", names}}, Json{{"type", "array"},
                                                                 {"minItems", 1},
                                                                 {"uniqueItems", true},
                                                                 {"items", {{"enum", names}}}}})}};
}

// Roff needs its escape character and a leading dot or quote escaped.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string hooks_text(HookMask hooks) {
  if (hooks == kEveryHook) return {};
  std::string text;
  for (Hook h : kAllHooks) {
    if ((hooks & hook_bit(h)) != 0) text += (text.empty() ? "" : ", ") + std::string(hook_name(h));
  }
  return text;
}

void describe_option(const OptionSpec& option, std::string& out) {
  out += ".TP\n\\fB" + roff(option.key) + "\\fR";
  if (!option.flag.empty()) out += " (\\fB" + roff(option.flag) + "\\fR)";
  out += "\n";
  if (option.type != nullptr) {
    out += roff(option.type->syntax()) + ".";
  } else {
    out += "An object of the members below";
    if (!option.example.empty()) out += ", such as " + roff(option.example);
    out += ".";
  }
  if (!option.doc.empty()) out += " " + roff(option.doc) + ".";
  if (option.type != nullptr) out += " Example: " + roff(option.type->example().dump()) + ".";
  if (option.negatable) out += " Negatable: \\fB!" + roff(option.key) + "\\fR.";
  if (option.mandatory) out += " Required.";
  out += "\n";
  if (!option.members.empty()) {
    out += ".RS\n";
    for (const OptionSpec& member : option.members) describe_option(member, out);
    out += ".RE\n";
  }
}

void describe_constraints(std::span<const Constraint> constraints, std::string& out) {
  for (const Constraint& c : constraints) {
    static constexpr std::array<std::string_view, 3> kWords = {
        "At most one of: ", "Exactly one of: ", "At least one of: "};
    out += ".PP\n" + std::string(kWords[static_cast<std::size_t>(c.kind)]) + roff(c.keys) + ".\n";
  }
}

}  // namespace

Json ruleset_schema() {
  const Json verdict{{"enum", Json::array({"ACCEPT", "DROP"})}};
  Json defs = Json::object();
  defs["families"] = families_schema();
  defs["table"] = Json{
      {"type", "object"},
      {"propertyNames", {{"minLength", 1}, {"maxLength", 28}, {"pattern", "^[^-!\\s][^\\s]*$"}}},
      {"properties",
       {{"families",
         {{"$ref", "#/$defs/families"},
          {"description",
           "the families whose packets run this table (default: the ruleset's); not a chain"}}}}},
      {"additionalProperties", {{"$ref", "#/$defs/chain"}}}};
  defs["chain"] = Json{
      {"type", "object"},
      {"additionalProperties", false},
      {"properties",
       {{"policy",
         {{"description",
           "built-in chains only: one verdict for every family the table covers, or one per "
           "family (a family left out keeps ACCEPT)"},
          {"oneOf",
           Json::array({verdict, Json{{"type", "object"},
                                      {"additionalProperties", false},
                                      {"minProperties", 1},
                                      {"properties", {{"ipv4", verdict}, {"ipv6", verdict}}}}})}}},
        {"comment", {{"type", "string"}}},
        {"families",
         {{"$ref", "#/$defs/families"},
          {"description",
           "user chains only: the families that have the chain (default both), as iptables "
           "or ip6tables alone may"}}},
        {"rules", {{"type", "array"}, {"items", {{"$ref", "#/$defs/rule"}}}}}}}};
  const Json chain_name{{"type", "string"}, {"minLength", 1}, {"maxLength", 28}};
  defs["rule"] = Json{{"type", "object"},
                      {"additionalProperties", false},
                      {"properties",
                       {{"comment", {{"type", "string"}, {"maxLength", 255}}},
                        {"family",
                         {{"enum", {"ipv4", "ipv6"}},
                          {"description",
                           "the one family the rule applies to (default: both, unless its "
                           "matches name one)"}}},
                        {"match", {{"$ref", "#/$defs/match"}}},
                        {"target", {{"$ref", "#/$defs/target"}}},
                        {"jump", chain_name},
                        {"goto", chain_name}}},
                      {"not",
                       {{"anyOf", Json::array({Json{{"required", {"target", "jump"}}},
                                               Json{{"required", {"target", "goto"}}},
                                               Json{{"required", {"jump", "goto"}}}})}}}};
  defs["match"] = match_schema();
  defs["target"] = target_schema();
  Json tables = Json::object();
  for (TableId t : kAllTables) tables[std::string(table_name(t))] = {{"$ref", "#/$defs/table"}};
  return Json{
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"$id", "https://verdictd.invalid/ruleset.schema.json"},
      {"title", "verdictd ruleset"},
      {"description",
       "Tables, chains and rules that verdictd evaluates with the kernel's iptables semantics. "
       "Generated by `verdictctl schema` from the extensions' descriptions; verdictd itself "
       "checks more (ranges, loops, hooks)."},
      {"type", "object"},
      {"required", {"tables"}},
      {"additionalProperties", false},
      {"properties",
       {{"$schema", {{"type", "string"}}},
        {"comment", {{"type", "string"}}},
        {"families",
         {{"$ref", "#/$defs/families"},
          {"description",
           "the families the ruleset covers (default both); packets of the others are never "
           "steered"}}},
        {"sets",
         {{"type", "object"},
          {"additionalProperties", {{"type", "object"}}},
          {"description",
           "named sets by name (ipset's types: type, family, timeout, counters, comment, "
           "maxelem, netmask, range, and elements inline or from a file, JSON or ipset save "
           "text); the set match and SET target use them"}}},
        {"tables", {{"type", "object"}, {"additionalProperties", false}, {"properties", tables}}}}},
      {"$defs", defs}};
}

std::string ruleset_reference() {
  std::string out =
      ".\\\" Generated by `verdictctl reference` from the extensions' descriptions; do not edit.\n"
      ".TH VERDICTD.RULESET 5 \"\" verdictd \"File Formats\"\n"
      ".SH NAME\nverdictd.ruleset \\- every key of a verdictd ruleset's rules\n"
      ".SH DESCRIPTION\n"
      "A rule is {\"match\": {KEY: VALUE, ...}, \"target\": ...}. Each key belongs to an "
      "iptables module (shown as \\fB\\-m NAME\\fR) or to the rule itself; a key written "
      "\"!KEY\" is negated where iptables allows \\fB!\\fR. The iptables option each key "
      "stands for is in parentheses. See \\fBverdictd.json\\fR(5) for tables, chains and "
      "policies.\n"
      ".SH MATCHES\n";
  for (const MatchSpec* spec : all_matches()) {
    // The rule's own fields are titled by what they are, modules by -m NAME.
    out += spec->name.empty() ? ".SS " + roff(spec->summary) + "\n"
                              : ".SS \\-m " + roff(spec->name) + "\n" + roff(spec->summary) + ".\n";
    if (!spec->protocols.empty()) out += "Needs the rule's \\fBprotocol\\fR to match.\n";
    if (const std::string hooks = hooks_text(spec->hooks); !hooks.empty()) {
      out += "Only in " + hooks + ".\n";
    }
    if ((spec->needs & kNeedsTracking) != 0) out += "Tracks the packet's connection.\n";
    for (const OptionSpec& option : spec->options) describe_option(option, out);
    describe_constraints(spec->constraints, out);
  }
  out += ".SH TARGETS\n";
  for (const TargetSpec* spec : all_targets()) {
    out += ".SS " + roff(spec->name) + "\n" + roff(spec->summary) + ".\n";
    if (!spec->tables.empty()) {
      std::string tables;
      for (TableId t : spec->tables) {
        tables += (tables.empty() ? "" : ", ") + std::string(table_name(t));
      }
      out += "Only in the " + tables + " table" + (spec->tables.size() > 1 ? "s" : "") + ".\n";
    }
    if (const std::string hooks = hooks_text(spec->hooks); !hooks.empty()) {
      out += "Only in " + hooks + ".\n";
    }
    if ((spec->needs & kNeedsTracking) != 0) out += "Tracks the packet's connection.\n";
    if (spec->options.empty()) {
      out += "Written as the bare name \\fB\"" + roff(spec->name) + "\"\\fR.\n";
    }
    for (const OptionSpec& option : spec->options) describe_option(option, out);
    describe_constraints(spec->constraints, out);
  }
  out +=
      ".SH SEE ALSO\n\\fBverdictd\\fR(8), \\fBverdictctl\\fR(8), \\fBverdictd.json\\fR(5), "
      "\\fBiptables\\-extensions\\fR(8)\n";
  return out;
}

}  // namespace verdictd
