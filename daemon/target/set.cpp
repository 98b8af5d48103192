// -j SET: adds the packet to a named set, or deletes it from one, as
// xt_set's target (revision 3: --add-set/--del-set NAME src,dst, --exist,
// --timeout), then goes on with the next rule. E.g. ban a source for ten
// minutes: {"SET": {"add_set": {"name": "banned", "flags": "src"}, "timeout": 600}}.
#include <array>
#include <functional>

#include "extension/error.hpp"
#include "extension/target.hpp"
#include "set/ip_set.hpp"
#include "set/packet_key.hpp"
#include "set/set_declaration.hpp"
#include "set/set_option_types.hpp"

namespace verdictd {

namespace {

// One of --add-set and --del-set.
struct SetOperation {
  std::string name;
  SetDirections directions;
  std::optional<Family> family;  // the set's, for a set with addresses
};

class SetTarget final : public Target, public UsesSets {
 public:
  SetTarget(std::optional<SetOperation> add, std::optional<SetOperation> del, bool exist,
            std::optional<std::uint32_t> timeout)
      : add_(std::move(add)), del_(std::move(del)), exist_(exist), timeout_(timeout) {}

  // A set of one family restricts the rule to it, as ip6tables refuses an
  // inet set.
  [[nodiscard]] std::optional<Family> family() const override {
    if (add_ && add_->family) return add_->family;
    return del_ ? del_->family : std::nullopt;
  }

  [[nodiscard]] std::vector<std::string> set_names() const override {
    std::vector<std::string> names;
    if (add_) names.push_back(add_->name);
    if (del_) names.push_back(del_->name);
    return names;
  }

  // As set_target_v3: the add, then the delete; a packet that is no
  // element of a set's type, or a full set, changes nothing. On a list:set,
  // as list_set_kadd and list_set_kdel: the first member the add or delete
  // succeeds in (so an element already in the first member goes to the
  // second, unless --exist).
  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    const BoundSets& bound = extension_state<BoundSets>(state);
    const auto add = [&](IpSet& set) {
      auto element = packet_element(set, packet, state, *add_);
      if (!element) return false;
      element->timeout = timeout_;
      return set.add(*element, exist_, set_clock_now()) == IpSet::AddResult::kAdded;
    };
    const auto del = [&](IpSet& set) {
      auto element = packet_element(set, packet, state, *del_);
      return element && set.del(*element, set_clock_now());
    };
    if (add_) on_set(bound, 0, add);
    if (del_) on_set(bound, bound.sets.size() - 1, del);
    return TargetAction::kContinue;
  }

  [[nodiscard]] std::string list_extra() const override { return text(""); }
  [[nodiscard]] std::string save() const override { return "-j SET" + text("--"); }

 private:
  // `operation` on the bound set `index`, or on its members in order until
  // one succeeds for a list:set.
  static void on_set(const BoundSets& bound, std::size_t index,
                     const std::function<bool(IpSet&)>& operation) {
    if (const ListSet* list = bound.lists[index].get()) {
      list->first(operation, set_clock_now());
    } else {
      operation(*bound.sets[index]);
    }
  }

  // The packet as an element, its first address masked to the longest
  // prefix the set holds (the kernel's INIT_CIDR for the net types).
  static std::optional<SetElement> packet_element(const IpSet& set, const PacketView& packet,
                                                  const EvalState& state,
                                                  const SetOperation& operation) {
    SetElement element;
    if (!packet_key(set.codec(), packet, state, operation.directions, element.key)) {
      return std::nullopt;
    }
    element.cidr = set.packet_cidr();
    if (set.codec().address_words() != 0) set.codec().mask(element.key.data(), element.cidr);
    return element;
  }

  // "add-set blk src exist timeout 600"; with `prefix` "--", iptables-save's.
  [[nodiscard]] std::string text(std::string_view prefix) const {
    const std::string p(prefix);
    std::string out;
    const auto add_word = [&out](const std::string& word) {
      if (!out.empty() || word.starts_with("--")) out += ' ';
      out += word;
    };
    if (add_) add_word(p + "add-set " + add_->name + " " + add_->directions.text());
    if (del_) add_word(p + "del-set " + del_->name + " " + del_->directions.text());
    if (exist_) add_word(p + "exist");
    if (timeout_) add_word(p + "timeout " + std::to_string(*timeout_));
    return out;
  }

  std::optional<SetOperation> add_;
  std::optional<SetOperation> del_;
  bool exist_;
  std::optional<std::uint32_t> timeout_;
};

std::optional<SetOperation> operation(const OptionValues& options, const std::string& key) {
  if (!options.has(key)) return std::nullopt;
  const OptionValues members = options.members(key);
  SetOperation op;
  op.name = members.get<std::string>("name");
  const SetDeclaration& declared = declared_set(op.name, "/" + key + "/name");
  if (declared.contents && declared.contents->options().type->has_family) {
    op.family = declared.contents->options().family;
  }
  op.directions = *SetDirections::parse(members.get<std::string>("flags"));
  return op;
}

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  std::optional<SetOperation> add = operation(options, "add_set");
  std::optional<SetOperation> del = operation(options, "del_set");
  if (add && del && add->family && del->family && *add->family != *del->family) {
    throw FieldError("the add and del sets are of different families", "/del_set");
  }
  std::optional<std::uint32_t> timeout;
  if (options.has("timeout")) {
    timeout = static_cast<std::uint32_t>(options.get<std::uint64_t>("timeout"));
  }
  return std::make_unique<SetTarget>(std::move(add), std::move(del), options.has("exist"), timeout);
}

const std::array<OptionSpec, 2> kSetMembers = {{
    {.key = "name",
     .type = &set_name_type(),
     .mandatory = true,
     .doc = "the set, declared in the ruleset's \"sets\""},
    {.key = "flags",
     .type = &set_flags_type(),
     .mandatory = true,
     .doc = "per dimension of the set, \"src\" or \"dst\" (\"src,dst\")"},
}};

const std::array<OptionSpec, 4> kOptions = {{
    {.key = "add_set",
     .flag = "--add-set",
     .members = kSetMembers,
     .doc = "the set the packet is added to",
     .example = R"({"name": "blocklist", "flags": "src"})"},
    {.key = "del_set",
     .flag = "--del-set",
     .members = kSetMembers,
     .doc = "the set the packet is deleted from",
     .example = R"({"name": "blocklist", "flags": "src"})"},
    {.key = "exist",
     .flag = "--exist",
     .type = &value_types::flag(),
     .doc = "an element already there is added again: its timeout starts over"},
    {.key = "timeout",
     .flag = "--timeout",
     .type = &value_types::number(0xffffffff),
     .doc = "seconds the added element stays (the set's default timeout otherwise; 0: for "
            "good); for a set with timeouts"},
}};

const std::array<Constraint, 1> kConstraints = {{
    {Constraint::Kind::kAtLeastOne, "add_set del_set"},
}};

const TargetRegistrar kRegistrar({.name = "SET",
                                  .summary = "adds the packet to a named set or deletes it",
                                  .options = kOptions,
                                  .constraints = kConstraints,
                                  .build = build});

}  // namespace

}  // namespace verdictd
