// -m conntrack (every "ct..." key of a rule) and -m state: the packet's
// connection state and what its connection holds, tested as xt_conntrack
// (revision 3) and xt_state test them. iptables itself serves -m state from
// its conntrack extension, so both live here and share the state names.
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <span>

#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

struct NamedBits {
  std::string_view name;
  std::uint32_t bits;
};

// In the order iptables prints them; -m state knows only the first five.
constexpr std::array<NamedBits, 7> kStates = {{{"INVALID", 1U << 0},
                                               {"NEW", 1U << 1},
                                               {"RELATED", 1U << 2},
                                               {"ESTABLISHED", 1U << 3},
                                               {"UNTRACKED", 1U << 4},
                                               {"SNAT", 1U << 5},
                                               {"DNAT", 1U << 6}}};
constexpr std::size_t kPlainStates = 5;
constexpr std::uint32_t kInvalidBit = kStates[0].bits;
constexpr std::uint32_t kSnatBit = kStates[5].bits;
constexpr std::uint32_t kDnatBit = kStates[6].bits;

constexpr std::array<NamedBits, 5> kStatuses = {{{"NONE", 0},
                                                 {"EXPECTED", ctstatus::kExpected},
                                                 {"SEEN_REPLY", ctstatus::kSeenReply},
                                                 {"ASSURED", ctstatus::kAssured},
                                                 {"CONFIRMED", ctstatus::kConfirmed}}};

std::string name_list(std::span<const NamedBits> names) {
  std::string text;
  for (const NamedBits& n : names) text += (text.empty() ? "" : ", ") + std::string(n.name);
  return text;
}

// "A,B" or ["A", "B"]: at least one name, each from `names`.
std::uint32_t parse_names(const Json& v, std::span<const NamedBits> names) {
  const std::string what =
      "a list or comma-separated string of " + name_list(names) + ", at least one";
  auto bits_of = [&](std::string_view name) -> std::optional<std::uint32_t> {
    auto known = std::find_if(names.begin(), names.end(),
                              [&](const NamedBits& n) { return n.name == name; });
    if (known == names.end()) return std::nullopt;
    return known->bits;
  };
  std::uint32_t bits = 0;
  if (v.is_array()) {
    if (v.empty()) throw_expected(what, v);
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto named = v[i].is_string() ? bits_of(v[i].get_ref<const std::string&>()) : std::nullopt;
      if (!named) {
        throw FieldError("expected " + what + ", got " + v[i].dump(), "/" + std::to_string(i));
      }
      bits |= *named;
    }
    return bits;
  }
  std::string_view text = expect_string(v, what);
  while (true) {
    const auto comma = text.find(',');
    auto named = bits_of(text.substr(0, comma));
    if (!named) throw_expected(what, v);
    bits |= *named;
    if (comma == std::string_view::npos) return bits;
    text.remove_prefix(comma + 1);
  }
}

// "RELATED,ESTABLISHED" as iptables prints a set; "NONE" for no status bit.
std::string names_text(std::uint32_t bits, std::span<const NamedBits> names) {
  std::string text;
  for (const NamedBits& n : names) {
    if (n.bits != 0 && (bits & n.bits) == n.bits) {
      text += (text.empty() ? "" : ",") + std::string(n.name);
    }
  }
  return text.empty() ? "NONE" : text;
}

// The packet's state bit; with `with_nat`, xt_conntrack's virtual SNAT and
// DNAT states join it when the connection's addresses are translated.
std::uint32_t packet_state_bits(const EvalState& state, bool with_nat) {
  const PacketConntrack* ct = state.conntrack;
  if (ct == nullptr) return kInvalidBit;
  std::uint32_t bits = kInvalidBit;
  switch (ct->state) {
    case CtState::kInvalid:
      break;
    case CtState::kNew:
      bits = kStates[1].bits;
      break;
    case CtState::kRelated:
      bits = kStates[2].bits;
      break;
    case CtState::kEstablished:
      bits = kStates[3].bits;
      break;
    case CtState::kUntracked:
      bits = kStates[4].bits;
      break;
  }
  if (with_nat && ct->has_flow) {
    if ((ct->flow.status & ctstatus::kSrcNat) != 0) bits |= kSnatBit;
    if ((ct->flow.status & ctstatus::kDstNat) != 0) bits |= kDnatBit;
  }
  return bits;
}

// ---- -m conntrack

// The options, in the order iptables prints them.
enum class CtOption : std::uint8_t {
  kState,
  kProto,
  kOrigSrc,
  kOrigDst,
  kReplSrc,
  kReplDst,
  kOrigSrcPort,
  kOrigDstPort,
  kReplSrcPort,
  kReplDstPort,
  kStatus,
  kExpire,
  kDirection,
};
constexpr std::array<std::string_view, 13> kOptionKeys = {
    "ctstate",   "ctproto",       "ctorigsrc",     "ctorigdst",     "ctreplsrc",
    "ctrepldst", "ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport",
    "ctstatus",  "ctexpire",      "ctdir"};

std::optional<CtOption> option_of(std::string_view key) {
  auto known = std::find(kOptionKeys.begin(), kOptionKeys.end(), key);
  if (known == kOptionKeys.end()) return std::nullopt;
  return static_cast<CtOption>(known - kOptionKeys.begin());
}

struct CtCondition {
  CtOption option = CtOption::kState;
  bool negated = false;
  std::uint32_t value = 0;  // state or status bits, protocol number, or 1 for REPLY
  IpPrefix prefix;          // the address options
  std::uint32_t low = 0;    // ports and remaining seconds
  std::uint32_t high = 0;
};

std::pair<std::uint32_t, std::uint32_t> parse_seconds_range(const Json& v) {
  constexpr std::string_view kWhat = "seconds 0-4294967295 or a range \"lo:hi\"";
  if (!v.is_string()) {
    const std::uint32_t seconds = parse_uint(v, 0xffffffff, kWhat);
    return {seconds, seconds};
  }
  const std::string& text = v.get_ref<const std::string&>();
  auto number = [&](std::string_view digits) {
    std::uint32_t n = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
      throw_expected(kWhat, v);
    }
    return n;
  };
  const auto colon = text.find(':');
  const std::uint32_t low = number(std::string_view(text).substr(0, colon));
  const std::uint32_t high =
      colon == std::string::npos ? low : number(std::string_view(text).substr(colon + 1));
  if (low > high) throw_expected("a range \"lo:hi\" with lo <= hi", v);
  return {low, high};
}

CtCondition parse_condition(CtOption option, const Json& v, bool negated) {
  CtCondition c;
  c.option = option;
  c.negated = negated;
  switch (option) {
    case CtOption::kState:
      c.value = parse_names(v, kStates);
      break;
    case CtOption::kStatus:
      c.value = parse_names(v, kStatuses);
      break;
    case CtOption::kProto: {
      const auto number = protocol_number(v);
      if (!number) throw_expected("a protocol name (tcp, udp, icmp...) or a number 0-255", v);
      c.value = *number;
      break;
    }
    case CtOption::kOrigSrc:
    case CtOption::kOrigDst:
    case CtOption::kReplSrc:
    case CtOption::kReplDst:
      c.prefix = parse_prefix(v);
      break;
    case CtOption::kOrigSrcPort:
    case CtOption::kOrigDstPort:
    case CtOption::kReplSrcPort:
    case CtOption::kReplDstPort: {
      const PortRange ports = parse_port_range(v);
      c.low = ports.low;
      c.high = ports.high;
      break;
    }
    case CtOption::kExpire:
      std::tie(c.low, c.high) = parse_seconds_range(v);
      break;
    case CtOption::kDirection:
      if (v != "ORIGINAL" && v != "REPLY") throw_expected(R"("ORIGINAL" or "REPLY")", v);
      c.value = v == "REPLY" ? 1 : 0;
      break;
  }
  return c;
}

bool in_range(std::uint32_t n, const CtCondition& c) { return n >= c.low && n <= c.high; }

// Whether the connection passes one condition, before negation.
bool holds(const CtCondition& c, const PacketConntrack& ct) {
  const Flow& flow = ct.flow;
  switch (c.option) {
    case CtOption::kState:  // tested before, from the packet's state
      return true;
    case CtOption::kProto:
      return flow.original.protocol == c.value;
    case CtOption::kOrigSrc:
      return c.prefix.contains(flow.original.source);
    case CtOption::kOrigDst:
      return c.prefix.contains(flow.original.destination);
    case CtOption::kReplSrc:
      return c.prefix.contains(flow.reply.source);
    case CtOption::kReplDst:
      return c.prefix.contains(flow.reply.destination);
    case CtOption::kOrigSrcPort:
      return in_range(flow.original.source_port, c);
    case CtOption::kOrigDstPort:
      return in_range(flow.original.destination_port, c);
    case CtOption::kReplSrcPort:
      return in_range(flow.reply.source_port, c);
    case CtOption::kReplDstPort:
      return in_range(flow.reply.destination_port, c);
    case CtOption::kStatus:
      return (flow.status & c.value) != 0;
    case CtOption::kExpire: {
      // Whole seconds left, rounded down as the kernel's jiffies / HZ.
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(flow.expires - ct.now);
      return in_range(
          static_cast<std::uint32_t>(std::clamp<std::int64_t>(left.count(), 0, 0xffffffff)), c);
    }
    case CtOption::kDirection:
      return (ct.direction == Direction::kReply) == (c.value == 1);
  }
  return false;
}

std::string value_text(const CtCondition& c) {
  switch (c.option) {
    case CtOption::kState:
      return names_text(c.value, kStates);
    case CtOption::kStatus:
      return names_text(c.value, kStatuses);
    case CtOption::kProto:
      return std::to_string(c.value);
    case CtOption::kOrigSrc:
    case CtOption::kOrigDst:
    case CtOption::kReplSrc:
    case CtOption::kReplDst:
      return c.prefix.to_string();
    case CtOption::kDirection:
      return c.value == 1 ? "REPLY" : "ORIGINAL";
    default:
      return std::to_string(c.low) + (c.low == c.high ? "" : ":" + std::to_string(c.high));
  }
}

// iptables loads one conntrack match for all of a rule's ct options. The
// rule's last ct key builds it, with every ct condition; the keys before it
// are parts that only carry their own address family (and their errors,
// reported where they were written) and match everything.
class ConntrackMatch final : public Match {
 public:
  ConntrackMatch(std::vector<CtCondition> conditions, std::optional<Family> family)
      : conditions_(std::move(conditions)), family_(family) {}

  // As xt_conntrack: the state is tested first; a packet without a
  // connection then passes only if the state was tested (and matched).
  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    const PacketConntrack* ct = state.conntrack;
    for (const CtCondition& c : conditions_) {
      if (c.option == CtOption::kState) {
        const bool in_state = (packet_state_bits(state, true) & c.value) != 0;
        if (in_state == c.negated) return false;
        continue;
      }
      if (ct == nullptr || !ct->has_flow) return conditions_.front().option == CtOption::kState;
      if (holds(c, *ct) == c.negated) return false;
    }
    return true;
  }

  [[nodiscard]] std::optional<Family> family() const override { return family_; }
  [[nodiscard]] bool needs_conntrack() const override { return true; }

  // "! ctstate NEW ctproto 6 ctdir REPLY"
  void list(ListRow& row) const override {
    if (conditions_.empty()) return;
    std::string text;
    for (const CtCondition& c : conditions_) {
      text += std::string(text.empty() ? "" : " ") + (c.negated ? "! " : "") +
              std::string(kOptionKeys[static_cast<std::size_t>(c.option)]) + " " + value_text(c);
    }
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    if (conditions_.empty()) return;
    line.matches += " -m conntrack";
    for (const CtCondition& c : conditions_) {
      line.matches += std::string(c.negated ? " !" : "") + " --" +
                      std::string(kOptionKeys[static_cast<std::size_t>(c.option)]) + " " +
                      value_text(c);
    }
  }

 private:
  std::vector<CtCondition> conditions_;  // in iptables' order; empty for a part
  std::optional<Family> family_;
};

std::string_view without_negation(std::string_view key) {
  return key.starts_with('!') ? key.substr(1) : key;
}

std::unique_ptr<Match> make_conntrack(const MatchArgs& args) {
  const CtOption option = *option_of(args.key);
  const CtCondition own = parse_condition(option, args.value, args.negated);
  std::optional<Family> family;
  if (option >= CtOption::kOrigSrc && option <= CtOption::kReplDst) {
    family = own.prefix.address.family;
  }
  // Written keys of the rule's conntrack options, in order.
  std::vector<std::pair<std::string, const Json*>> written;
  for (const auto& [key, value] : args.rule_match.items()) {
    if (option_of(without_negation(key))) written.emplace_back(key, &value);
  }
  const std::string own_key = (args.negated ? "!" : "") + std::string(args.key);
  for (const auto& [key, value] : written) {
    if (key == own_key) break;
    if (without_negation(key) == args.key) {
      throw FieldError(Json(key).dump() +
                       " is already in this rule: a rule has one conntrack "
                       "match, with each option once");
    }
  }
  if (written.back().first != own_key) {
    return std::make_unique<ConntrackMatch>(std::vector<CtCondition>{}, family);
  }
  std::vector<CtCondition> conditions;
  for (const auto& [key, value] : written) {
    const std::string_view name = without_negation(key);
    conditions.push_back(parse_condition(*option_of(name), *value, name != key));
  }
  std::sort(conditions.begin(), conditions.end(),
            [](const CtCondition& a, const CtCondition& b) { return a.option < b.option; });
  return std::make_unique<ConntrackMatch>(std::move(conditions), family);
}

// ctdir alone cannot be negated, as in iptables.
const std::array<MatchRegistrar, 13> kConntrackKeys = {
    MatchRegistrar(kOptionKeys[0], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[1], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[2], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[3], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[4], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[5], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[6], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[7], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[8], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[9], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[10], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[11], {make_conntrack, true}),
    MatchRegistrar(kOptionKeys[12], {make_conntrack, false}),
};

// ---- -m state

class StateMatch final : public Match {
 public:
  StateMatch(std::uint32_t states, bool negated) : states_(states), negated_(negated) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    return ((packet_state_bits(state, false) & states_) != 0) != negated_;
  }

  [[nodiscard]] bool needs_conntrack() const override { return true; }

  void list(ListRow& row) const override {
    row.add_extra(std::string(negated_ ? "! " : "") + "state " + names_text(states_, kStates));
  }

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m state") + (negated_ ? " !" : "") + " --state " +
                    names_text(states_, kStates);
  }

 private:
  std::uint32_t states_;
  bool negated_;
};

std::unique_ptr<Match> make_state(const MatchArgs& args) {
  return std::make_unique<StateMatch>(
      parse_names(args.value, std::span(kStates).first(kPlainStates)), args.negated);
}

const MatchRegistrar kState("state", {make_state, true});

}  // namespace

}  // namespace verdictd
