#include "iptables/rule_options.hpp"

#include <algorithm>
#include <cctype>

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/value_type.hpp"
#include "packet/protocol_names.hpp"
#include "text/decimal.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// Every option and member of `options` spelled `flag`, or (with `prefix`)
// spelled with `flag` as a prefix, as getopt_long takes an abbreviation.
template <class Found>
void collect(std::span<const OptionSpec> options, std::string_view flag, bool prefix,
             std::vector<Found>& hits) {
  for (const OptionSpec& option : options) {
    const std::vector<std::string_view> names = option_spellings(option);
    for (std::size_t s = 0; s < names.size(); ++s) {
      if (names[s] == flag || (prefix && names[s].starts_with(flag))) {
        hits.push_back({&option, nullptr, option.flag.empty() ? s + 1 : s});
        break;
      }
    }
    for (const OptionSpec& member : option.members) {
      const std::vector<std::string_view> member_names = option_spellings(member);
      for (std::size_t s = 0; s < member_names.size(); ++s) {
        if (member_names[s] == flag || (prefix && member_names[s].starts_with(flag))) {
          hits.push_back({&option, &member, member.flag.empty() ? s + 1 : s});
          break;
        }
      }
    }
  }
}

Json scalar_value(const ValueType& type, const std::string& text);

// A value as the JSON a person would write: a number when the text is one
// and the option takes it so, a list where the type wants iptables'
// comma-separated text as one ("80,443"), else the text.
Json argument_value(const ValueType& type, const std::string& text) {
  Json value = scalar_value(type, text);
  if (!value.is_string() || !type.takes_list()) return value;
  try {
    static_cast<void>(type.parse(value));
    return value;
  } catch (const FieldError&) {
    Json list = Json::array();
    std::string_view rest = text;
    while (true) {
      const auto comma = rest.find(',');
      list.push_back(scalar_value(type, std::string(rest.substr(0, comma))));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    return list;
  }
}

Json scalar_value(const ValueType& type, const std::string& text) {
  const auto accepts = [&type](const Json& value) {
    try {
      static_cast<void>(type.parse(value));
      return true;
    } catch (const FieldError&) {
      return false;
    }
  };
  // iptables reads numbers with strtoul's base 0 ("0x2e") and fractions
  // with strtod; JSON writes them as numbers.
  if (!text.empty() && text.size() < 20 &&
      text.find_first_not_of("0123456789abcdefABCDEFx.") == std::string::npos) {
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const std::string digits = hex ? text.substr(2) : text;
    if (hex && !digits.empty() &&
        digits.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
      Json number = std::stoull(digits, nullptr, 16);
      if (accepts(number)) return number;
    } else if (!hex && text.find_first_not_of("0123456789") == std::string::npos &&
               (text.size() == 1 || text[0] != '0')) {
      Json number = std::stoull(text);
      if (accepts(number)) return number;
    } else if (!hex && text.find_first_not_of("0123456789.") == std::string::npos &&
               std::count(text.begin(), text.end(), '.') == 1 && text != ".") {
      Json number = std::stod(text);
      if (accepts(number)) return number;
    }
  }
  // Names iptables compares without case ("cs0" for CS0).
  if (!accepts(text)) {
    std::string upper = text;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper != text && accepts(upper)) return upper;
  }
  return text;
}

const Argument& argument_after(const Arguments& args, std::size_t i, std::size_t n) {
  if (i + n >= args.size()) {
    throw ImportError("option \"" + args[i].text + "\" requires " +
                          (n == 1 ? std::string("an argument") : std::to_string(n) + " arguments"),
                      args[i].column);
  }
  return args[i + n];
}

bool is_flag(const Argument& a, std::string_view short_form, std::string_view long_form) {
  return a.text == short_form || a.text == long_form;
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The first token of a JSON pointer suffix ("/dport/0" → "dport").
std::string first_token(const std::string& suffix) {
  if (suffix.size() < 2) return {};
  const auto end = suffix.find('/', 1);
  return suffix.substr(1, end == std::string::npos ? std::string::npos : end - 1);
}

const MatchSpec& header_spec_of(std::string_view key) {
  for (const MatchSpec* spec : matches_with_key(key)) {
    if (spec->name.empty()) return *spec;
  }
  throw std::logic_error("no rule field " + std::string(key));
}

// The option of a module whose options are one object of optional members
// (rpfilter): "-m rpfilter" alone is that object, empty.
const OptionSpec* empty_object_option(const MatchSpec& spec) {
  if (spec.options.size() != 1 || spec.options.front().type != nullptr) return nullptr;
  const OptionSpec& only = spec.options.front();
  const bool optional = std::none_of(only.members.begin(), only.members.end(),
                                     [](const OptionSpec& m) { return m.mandatory; });
  return optional ? &only : nullptr;
}

}  // namespace

const MatchSpec* protocol_module(std::uint8_t protocol) {
  const std::string name = protocol_name(protocol);
  return find_match_module(name == "ipv6-icmp" ? "icmp6" : name);
}

std::size_t RuleOptions::take(const Arguments& args, std::size_t i, bool negated) {
  const Argument& a = args[i];
  struct Header {
    std::string_view short_form;
    std::string_view key;
  };
  static constexpr std::array<Header, 6> kHeaders = {{{"-p", "protocol"},
                                                      {"-s", "source"},
                                                      {"-d", "destination"},
                                                      {"-i", "in_interface"},
                                                      {"-o", "out_interface"},
                                                      {"-f", "fragment"}}};
  for (const Header& header : kHeaders) {
    const MatchSpec& spec = header_spec_of(header.key);
    const OptionSpec& option = spec.options.front();
    const std::vector<std::string_view> names = option_spellings(option);
    if (a.text == header.short_form ||
        std::find(names.begin(), names.end(), a.text) != names.end()) {
      any_ = true;
      return take_header(args, i, negated, option);
    }
  }
  if (is_flag(a, "-m", "--match")) {
    if (negated) throw ImportError("\"!\" cannot stand before -m", a.column);
    load_module(argument_after(args, i, 1));
    any_ = true;
    return i + 2;
  }
  if (is_flag(a, "-j", "--jump") || is_flag(a, "-g", "--goto")) {
    if (negated) throw ImportError("\"!\" cannot stand before " + a.text, a.column);
    if (!verdict_key_.empty()) {
      throw ImportError("multiple -j or -g flags not allowed", a.column);
    }
    const Argument& name = argument_after(args, i, 1);
    verdict_name_ = name.text;
    verdict_column_ = name.column;
    if (a.text == "-g" || a.text == "--goto") {
      verdict_key_ = "goto";
    } else {
      target_ = find_target(name.text);
      target_loaded_after_ = modules_.size();
      verdict_key_ = target_ != nullptr ? "target" : "jump";
    }
    any_ = true;
    return i + 2;
  }
  if (is_flag(a, "-c", "--set-counters")) {
    const Argument& packets = argument_after(args, i, 1);
    const Argument& bytes = argument_after(args, i, 2);
    const auto p = parse_decimal<std::uint64_t>(packets.text);
    const auto b = parse_decimal<std::uint64_t>(bytes.text);
    if (!p || !b) throw ImportError("-c takes two counts, packets and bytes", packets.column);
    counters_ = RuleCounters{*p, *b};
    return i + 3;
  }
  if (a.text.starts_with("--") && a.text.size() > 2) {
    any_ = true;
    return take_extension_option(args, i, negated);
  }
  return i;
}

std::size_t RuleOptions::take_header(const Arguments& args, std::size_t i, bool negated,
                                     const OptionSpec& option) {
  const Argument& flag = args[i];
  const std::string key(option.key);
  const auto given = [&](const Written& w) { return w.key == key || w.key == "!" + key; };
  if (std::any_of(header_.begin(), header_.end(), given) ||
      (key == "source" && !sources_.empty()) || (key == "destination" && !destinations_.empty())) {
    throw ImportError("multiple " + std::string(option.flag) + " flags not allowed", flag.column);
  }
  if (negated && !option.negatable) {
    throw ImportError("\"!\" cannot stand before " + flag.text, flag.column);
  }
  if (option.type->arguments() == 0) {
    header_.push_back({(negated ? "!" : "") + key, true, flag.column});
    return i + 1;
  }
  const Argument& value = argument_after(args, i, 1);
  if (key == "source" || key == "destination") {
    // iptables adds one rule per address of a list.
    std::vector<std::string>& list = key == "source" ? sources_ : destinations_;
    std::string_view rest = value.text;
    while (true) {
      const auto comma = rest.find(',');
      list.emplace_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    (key == "source" ? source_column_ : destination_column_) = value.column;
    (key == "source" ? source_negated_ : destination_negated_) = negated;
    return i + 2;
  }
  const std::string text = key == "protocol" ? lowercase(value.text) : value.text;
  header_.push_back({(negated ? "!" : "") + key, argument_value(*option.type, text), value.column});
  return i + 2;
}

void RuleOptions::load_module(const Argument& name) {
  if (name.text == "comment") {
    modules_.push_back({nullptr, name.column, {}});
    return;
  }
  const MatchSpec* spec = find_match_module(name.text);
  if (spec == nullptr || spec->name.empty()) {
    throw ImportError("match \"" + name.text + "\" is not supported by verdictd", name.column);
  }
  // Only an implied module iptables loads again ("-p tcp -m tcp"): it is
  // one match either way.
  if (std::any_of(modules_.begin(), modules_.end(),
                  [spec](const Module& m) { return m.spec == spec; })) {
    throw ImportError(
        "-m " + name.text + " twice in one rule: verdictd's rules take each match once",
        name.column);
  }
  modules_.push_back({spec, name.column, {}});
}

const MatchSpec* RuleOptions::implied_module() const {
  const auto protocol = std::find_if(header_.begin(), header_.end(),
                                     [](const Written& w) { return w.key == "protocol"; });
  if (protocol == header_.end()) return nullptr;
  const std::optional<std::uint8_t> number = protocol_number(protocol->value);
  const MatchSpec* spec = number ? protocol_module(*number) : nullptr;
  const bool loaded = std::any_of(modules_.begin(), modules_.end(),
                                  [spec](const Module& m) { return m.spec == spec; });
  return loaded ? nullptr : spec;
}

std::optional<RuleOptions::Found> RuleOptions::find_in_scope(const Argument& flag) {
  // getopt_long over iptables' merged options: an exact spelling first,
  // else an unambiguous abbreviation. xtables_merge_options puts the last
  // extension loaded first, so "-m mark --mark 1 -m connmark --mark 2" gives
  // each module its own.
  std::vector<std::span<const OptionSpec>> scopes;  // most recently loaded first
  for (std::size_t m = modules_.size(); m-- > 0;) {
    if (target_ != nullptr && m + 1 == target_loaded_after_) scopes.push_back(target_->options);
    if (modules_[m].spec != nullptr) scopes.push_back(modules_[m].spec->options);
  }
  if (target_ != nullptr && target_loaded_after_ == 0) scopes.push_back(target_->options);
  for (const bool prefix : {false, true}) {
    std::vector<Found> hits;
    for (const std::span<const OptionSpec> scope : scopes) collect(scope, flag.text, prefix, hits);
    if (hits.empty()) continue;
    if (!prefix || hits.size() == 1) return hits.front();
    throw ImportError("option \"" + flag.text + "\" is ambiguous", flag.column);
  }
  return std::nullopt;
}

std::size_t RuleOptions::take_extension_option(const Arguments& args, std::size_t i, bool negated) {
  const Argument& flag = args[i];
  if (flag.text == "--comment" && std::any_of(modules_.begin(), modules_.end(),
                                              [](const Module& m) { return m.spec == nullptr; })) {
    if (negated) throw ImportError("\"!\" cannot stand before --comment", flag.column);
    if (comment_) throw ImportError("multiple --comment flags not allowed", flag.column);
    const Argument& text = argument_after(args, i, 1);
    comment_ = text.text;
    comment_column_ = text.column;
    return i + 2;
  }
  std::optional<Found> found = find_in_scope(flag);
  if (!found) {
    // iptables loads the -p protocol's match for an option no loaded one knows.
    if (const MatchSpec* implied = implied_module()) {
      std::vector<Found> hits;
      collect(implied->options, flag.text, false, hits);
      if (hits.empty()) collect(implied->options, flag.text, true, hits);
      if (hits.size() == 1) {
        modules_.push_back({implied, flag.column, {}});
        found = hits.front();
      }
    }
  }
  if (!found) throw ImportError("unknown option \"" + flag.text + "\"", flag.column);
  const bool in_target =
      target_ != nullptr && std::any_of(target_->options.begin(), target_->options.end(),
                                        [&](const OptionSpec& o) { return &o == found->option; });
  if (in_target) return take_found(args, i, negated, *found, target_options_);
  for (Module& module : modules_) {
    if (module.spec == nullptr) continue;
    if (std::any_of(module.spec->options.begin(), module.spec->options.end(),
                    [&](const OptionSpec& o) { return &o == found->option; })) {
      return take_found(args, i, negated, *found, module.options);
    }
  }
  throw std::logic_error("an option found in no loaded extension");
}

std::size_t RuleOptions::take_found(const Arguments& args, std::size_t i, bool negated,
                                    const Found& found, std::vector<Written>& into) {
  const Argument& flag = args[i];
  const OptionSpec& option = *found.option;
  const std::string key(option.key);
  const auto twice = [&flag]() {
    return ImportError("multiple " + flag.text + " flags not allowed", flag.column);
  };
  std::size_t next = i + 1;
  // The value of one option or member, from the flag's own arguments.
  const auto value_of = [&](const OptionSpec& spec, bool& negation_left) -> Json {
    if (spec.flag_picks_choice) {
      const auto* choice = dynamic_cast<const ChoiceType*>(spec.type);
      return std::string(choice->choices()[found.spelling]);
    }
    if (spec.type != nullptr && spec.type->arguments() == 0) {
      // A negated boolean is false (! --update-counters); a negated flag
      // negates its option.
      if (negation_left && !spec.negatable) {
        try {
          static_cast<void>(spec.type->parse(false));
          negation_left = false;
          return false;
        } catch (const FieldError&) {
          // a flag: the negation goes to the option
        }
      }
      return true;
    }
    std::string text = argument_after(args, i, next++ - i).text;
    for (std::size_t more = 1; more < spec.type->arguments(); ++more) {
      text += " " + argument_after(args, i, next++ - i).text;
    }
    return argument_value(*spec.type, text);
  };
  // Members without a flag of their own follow the flag before them
  // (--match-set NAME FLAGS, --tcp-flags MASK COMPARE).
  const auto take_followers = [&](std::span<const OptionSpec> members, std::size_t from,
                                  Json& object) {
    for (std::size_t m = from; m < members.size() && members[m].flag.empty(); ++m) {
      object[std::string(members[m].key)] =
          argument_value(*members[m].type, argument_after(args, i, next++ - i).text);
    }
  };
  bool negation_left = negated;
  // A key several modules own ("dport": tcp's, udp's, multiport's) goes by
  // the shape of its value: a module that takes a list gets one.
  const auto shaped = [&option](Json value) {
    if (option.type != nullptr && option.type->takes_list() && !value.is_array() &&
        matches_with_key(option.key).size() > 1) {
      return Json::array({std::move(value)});
    }
    return value;
  };
  if (found.member == nullptr) {
    if (std::any_of(into.begin(), into.end(),
                    [&](const Written& w) { return w.key == key || w.key == "!" + key; })) {
      throw twice();
    }
    Json value;
    if (option.type != nullptr) {
      value = shaped(value_of(option, negation_left));
    } else {
      value = Json::object();
      take_followers(option.members, 0, value);
    }
    if (negation_left && !option.negatable) {
      throw ImportError("\"!\" cannot stand before " + flag.text, flag.column);
    }
    into.push_back({(negation_left ? "!" : "") + key, std::move(value), flag.column});
    return next;
  }
  // A member: it joins its option's object, which one negated member negates.
  const OptionSpec* member = found.member;
  if (negation_left && !member->negatable) {
    // The set match's "! --packets-eq" is its member packets_ne: a later
    // member spelled the same.
    const auto later =
        std::find_if(member + 1, option.members.data() + option.members.size(),
                     [member](const OptionSpec& m) { return m.flag == member->flag; });
    if (later != option.members.data() + option.members.size()) {
      member = later;
      negation_left = false;
    }
  }
  Json value = value_of(*member, negation_left);
  auto written = std::find_if(into.begin(), into.end(),
                              [&](const Written& w) { return w.key == key || w.key == "!" + key; });
  if (written == into.end()) {
    into.push_back({key, Json::object(), flag.column});
    written = std::prev(into.end());
  }
  const std::string member_key(member->key);
  if (written->value.contains(member_key)) throw twice();
  written->value[member_key] = std::move(value);
  take_followers(option.members, static_cast<std::size_t>(member - option.members.data()) + 1,
                 written->value);
  if (negation_left) {
    if (!option.negatable) throw ImportError("\"!\" cannot stand before " + flag.text, flag.column);
    written->key = "!" + key;
  }
  return next;
}

Json RuleOptions::match_object(const std::string& source, const std::string& destination) const {
  Json match = Json::object();
  for (const Written& w : header_) match[w.key] = w.value;
  if (!source.empty()) match[source_negated_ ? "!source" : "source"] = source;
  if (!destination.empty()) {
    match[destination_negated_ ? "!destination" : "destination"] = destination;
  }
  for (const Module& module : modules_) {
    for (const Written& w : module.options) match[w.key] = w.value;
    if (module.options.empty() && module.spec != nullptr) {
      if (const OptionSpec* option = empty_object_option(*module.spec)) {
        match[std::string(option->key)] = Json::object();
      }
    }
  }
  return match;
}

std::size_t RuleOptions::column_of(const std::string& pointer_suffix) const {
  const std::string key = first_token(pointer_suffix);
  const auto in = [&key](const std::vector<Written>& list) -> std::optional<std::size_t> {
    for (const Written& w : list) {
      if (w.key == key) return w.column;
    }
    return std::nullopt;
  };
  if (const auto c = in(header_)) return *c;
  for (const Module& module : modules_) {
    if (const auto c = in(module.options)) return *c;
  }
  if (key == "source" || key == "!source") return source_column_;
  if (key == "destination" || key == "!destination") return destination_column_;
  return verdict_column_;
}

std::vector<Json> RuleOptions::rules() const {
  for (const Module& module : modules_) {
    const bool written_empty = module.spec == nullptr
                                   ? comment_.has_value()
                                   : empty_object_option(*module.spec) != nullptr;
    if (module.options.empty() && !written_empty) {
      throw ImportError(
          "-m " +
              (module.spec == nullptr ? std::string("comment") : std::string(module.spec->name)) +
              " without options: verdictd's rules name a match by its options",
          module.column);
    }
  }
  const std::vector<std::string> sources =
      sources_.empty() ? std::vector<std::string>{""} : sources_;
  const std::vector<std::string> destinations =
      destinations_.empty() ? std::vector<std::string>{""} : destinations_;
  std::vector<Json> rules;
  for (const std::string& source : sources) {
    for (const std::string& destination : destinations) {
      Json rule = Json::object();
      if (comment_) rule["comment"] = *comment_;
      const Json match = match_object(source, destination);
      if (!match.empty()) rule["match"] = match;
      if (!verdict_key_.empty()) {
        if (verdict_key_ == "target") {
          if (target_options_.empty()) {
            rule["target"] = verdict_name_;
          } else {
            Json options = Json::object();
            for (const Written& w : target_options_) options[w.key] = w.value;
            rule["target"] = Json{{verdict_name_, options}};
          }
        } else {
          rule[verdict_key_] = verdict_name_;
        }
      }
      // The loader's own parsers check it, and must find the matches
      // iptables would print, in its order.
      try {
        const std::vector<BuiltMatch> built = build_matches(match, table_);
        std::vector<const MatchSpec*> expected;
        for (const Module& module : modules_) {
          if (module.spec != nullptr) expected.push_back(module.spec);
        }
        std::vector<const MatchSpec*> got;
        for (const BuiltMatch& b : built) {
          if (!b.match->spec().name.empty()) got.push_back(&b.match->spec());
        }
        if (got != expected) {
          throw ImportError(
              "verdictd's JSON cannot write these matches in this order (a rule's options "
              "of one module are read as another's)",
              modules_.empty() ? 0 : modules_.front().column);
        }
        if (rule.contains("target")) static_cast<void>(build_target(rule["target"], match, table_));
      } catch (const FieldError& e) {
        const bool in_target = rule.contains("target") && !e.pointer_suffix.empty() &&
                               first_token(e.pointer_suffix) == verdict_name_;
        std::size_t column = in_target ? verdict_column_ : column_of(e.pointer_suffix);
        if (in_target) {
          const std::string member = first_token(e.pointer_suffix.substr(verdict_name_.size() + 1));
          for (const Written& w : target_options_) {
            if (w.key == member) column = w.column;
          }
        }
        throw ImportError(e.what(), column);
      }
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

}  // namespace verdictd
