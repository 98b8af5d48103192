// -m set: the packet, as an element of a named set, is in it (xt_set
// revision 4: --match-set NAME src,dst, --return-nomatch, the element's
// counters updated or not and compared). The set lives in the state store
// by name (set/ip_set.hpp), so `verdictctl set` and the SET target change
// what this rule sees. On a list:set, the first member that matches decides.
#include <array>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "set/ip_set.hpp"
#include "set/packet_key.hpp"
#include "set/set_declaration.hpp"
#include "set/set_option_types.hpp"

namespace verdictd {

namespace {

using Op = CounterCondition::Op;

// One of the counter options: its JSON key, its flag, and the comparison.
struct CounterOption {
  std::string_view key;
  std::string_view text;  // "packets-eq"
  Op op;
  bool bytes;
};
constexpr std::array<CounterOption, 8> kCounterOptions = {{
    {"packets_eq", "packets-eq", Op::kEq, false},
    {"packets_ne", "packets-eq", Op::kNe, false},
    {"packets_lt", "packets-lt", Op::kLt, false},
    {"packets_gt", "packets-gt", Op::kGt, false},
    {"bytes_eq", "bytes-eq", Op::kEq, true},
    {"bytes_ne", "bytes-eq", Op::kNe, true},
    {"bytes_lt", "bytes-lt", Op::kLt, true},
    {"bytes_gt", "bytes-gt", Op::kGt, true},
}};

std::string counter_text(Op op, std::string_view prefix, bool bytes, std::uint64_t value) {
  for (const CounterOption& option : kCounterOptions) {
    if (option.op == op && option.bytes == bytes) {
      return std::string(op == Op::kNe ? " ! " : " ") + std::string(prefix) +
             std::string(option.text) + " " + std::to_string(value);
    }
  }
  return {};
}

struct SetMatchOptions {
  std::string name;
  SetDirections directions;
  bool negated = false;
  bool return_nomatch = false;
  bool update_subcounters = true;
  CounterCondition counters;
};

class SetMatch final : public Match, public UsesSets {
 public:
  SetMatch(SetMatchOptions options, std::optional<Family> family)
      : options_(std::move(options)), family_(family) {}

  [[nodiscard]] std::vector<std::string> set_names() const override { return {options_.name}; }
  // A set of one family restricts the rule to it, as iptables refuses an
  // inet6 set in an IPv4 rule.
  [[nodiscard]] std::optional<Family> family() const override { return family_; }

  bool matches(const PacketView& packet, EvalState& state) const override {
    const BoundSets& bound = extension_state<BoundSets>(state);
    if (const ListSet* list = bound.lists.front().get()) {
      // As list_set_ktest: the members' counters are not compared, and
      // ! --update-subcounters lets them count even under ! --update-counters;
      // the list's own counters, when it has them, are.
      CounterCondition member_counters;
      member_counters.update = options_.counters.update || !options_.update_subcounters;
      const SetTime now = list->options().timeout ? set_clock_now() : 0;
      const bool hit = list->first_matching(
          [&](IpSet& member) { return test(member, packet, state, member_counters); }, now,
          options_.counters, packet.length);
      return hit != options_.negated;
    }
    return test(*bound.sets.front(), packet, state, options_.counters) != options_.negated;
  }

  void list(ListRow& row) const override { row.add_extra(text("")); }
  void save(SaveLine& line) const override { line.matches += " -m set" + text("--"); }

 private:
  // "match-set blk src return-nomatch ! update-counters packets-gt 5", with
  // `prefix` "--" the iptables-save form.
  [[nodiscard]] std::string text(std::string_view prefix) const {
    const std::string p(prefix);
    std::string out = options_.negated ? "! " : "";
    if (!prefix.empty()) out = options_.negated ? " ! " : " ";
    out += p + "match-set " + options_.name + " " + options_.directions.text();
    if (options_.return_nomatch) out += " " + p + "return-nomatch";
    if (!options_.counters.update) out += " ! " + p + "update-counters";
    if (!options_.update_subcounters) out += " ! " + p + "update-subcounters";
    const CounterCondition& c = options_.counters;
    if (c.packets_op != Op::kNone) out += counter_text(c.packets_op, p, false, c.packets);
    if (c.bytes_op != Op::kNone) out += counter_text(c.bytes_op, p, true, c.bytes);
    return out;
  }

  // As ip_set_test: a packet that is no element of the set's type does not
  // match; --return-nomatch, for a type with nomatch elements, turns a
  // nomatch element into the match and a plain one into none.
  bool test(const IpSet& set, const PacketView& packet, const EvalState& state,
            const CounterCondition& counters) const {
    SetKey key{};
    if (!packet_key(set.codec(), packet, state, options_.directions, key)) return false;
    const SetTime now = set.options().timeout ? set_clock_now() : 0;
    const SetTest found = set.test(key, now, counters, packet.length);
    const bool invert = options_.return_nomatch && set.options().type->networks;
    return found == (invert ? SetTest::kNomatch : SetTest::kMatch);
  }

  SetMatchOptions options_;
  std::optional<Family> family_;
};

// true or false, as JSON writes them.
class BooleanType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "boolean"; }
  [[nodiscard]] Json example() const override { return false; }
  [[nodiscard]] std::string syntax() const override { return "true or false"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_boolean()) throw_expected(syntax(), v);
    return v.get<bool>();
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<bool>(v) ? "true" : "false";
  }
  [[nodiscard]] Json schema() const override { return Json{{"type", "boolean"}}; }
  [[nodiscard]] std::size_t arguments() const override { return 0; }
};

const BooleanType kBoolean;

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValues members = options.members("set");
  SetMatchOptions o;
  o.name = members.get<std::string>("name");
  const SetDeclaration& declared = declared_set(o.name, "/name");
  o.directions = *SetDirections::parse(members.get<std::string>("flags"));
  if (declared.contents) {
    const SetType& type = *declared.contents->options().type;
    for (std::size_t d = 0; d < type.dimension_count && d < o.directions.count; ++d) {
      if (type.dimensions[d] == Dimension::kMac && !o.directions.source[d]) {
        throw FieldError("hash:mac by dst: a queued packet comes with its source MAC address only",
                         "/flags");
      }
    }
  }
  o.negated = options.negated("set");
  o.return_nomatch = members.has("return_nomatch");
  o.counters.update = members.get_or<bool>("update_counters", true);
  o.update_subcounters = members.get_or<bool>("update_subcounters", true);
  // iptables takes one packets and one bytes comparison.
  for (const CounterOption& option : kCounterOptions) {
    if (!members.has(option.key)) continue;
    const auto value = members.get<std::uint64_t>(option.key);
    if ((option.bytes ? o.counters.bytes_op : o.counters.packets_op) != Op::kNone) {
      throw FieldError(std::string("only one of the ") + (option.bytes ? "bytes" : "packets") +
                           "_eq, _ne, _lt and _gt options is allowed",
                       "/" + std::string(option.key));
    }
    if (option.bytes) {
      o.counters.bytes_op = option.op;
      o.counters.bytes = value;
    } else {
      o.counters.packets_op = option.op;
      o.counters.packets = value;
    }
  }
  // A list:set has no family: its members of the packet's family answer.
  std::optional<Family> family;
  if (declared.contents && declared.contents->options().type->has_family) {
    family = declared.contents->options().family;
  }
  return std::make_unique<SetMatch>(std::move(o), family);
}

constexpr std::uint64_t kMaxCount = 0xffffffff;

const std::array<OptionSpec, 13> kMembers = {{
    {.key = "name",
     .flag = "--match-set",
     .type = &set_name_type(),
     .mandatory = true,
     .doc = "the set, declared in the ruleset's \"sets\""},
    {.key = "flags",
     .type = &set_flags_type(),
     .mandatory = true,
     .doc = "per dimension of the set, \"src\" or \"dst\": which of the packet's addresses "
            "(ports, interfaces) is looked up, comma-separated (\"src,dst\")"},
    {.key = "return_nomatch",
     .flag = "--return-nomatch",
     .type = &value_types::flag(),
     .doc = "a nomatch element matches, and a plain one does not"},
    {.key = "update_counters",
     .flag = "--update-counters",
     .type = &kBoolean,
     .doc = "false: the element's counters do not count the packet (true by default)"},
    {.key = "update_subcounters",
     .flag = "--update-subcounters",
     .type = &kBoolean,
     .doc = "false: the counters of a list:set's member do not count it (true by default)"},
    {.key = "packets_eq",
     .flag = "--packets-eq",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's packet counter equals this"},
    {.key = "packets_ne",
     .flag = "--packets-eq",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's packet counter differs from this (! --packets-eq)"},
    {.key = "packets_lt",
     .flag = "--packets-lt",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's packet counter is below this"},
    {.key = "packets_gt",
     .flag = "--packets-gt",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's packet counter is above this"},
    {.key = "bytes_eq",
     .flag = "--bytes-eq",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's byte counter equals this"},
    {.key = "bytes_ne",
     .flag = "--bytes-eq",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's byte counter differs from this (! --bytes-eq)"},
    {.key = "bytes_lt",
     .flag = "--bytes-lt",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's byte counter is below this"},
    {.key = "bytes_gt",
     .flag = "--bytes-gt",
     .type = &value_types::number(kMaxCount),
     .doc = "the element's byte counter is above this"},
}};

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "set",
      .negatable = true,
      .members = kMembers,
      .doc = "the packet is an element of a named set (ipset's match-set)",
      .example = R"({"name": "blocklist", "flags": "src"})"}}};

const MatchRegistrar kRegistrar({.name = "set",
                                 .summary = "the packet in a named set (ipset)",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
