// -m conntrack (every "ct..." key of a rule) and -m state: the packet's
// connection state and what its connection holds, tested as xt_conntrack
// (revision 3) and xt_state test them. iptables itself serves -m state from
// its conntrack extension, so both live here and share the state names.
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <span>
#include <type_traits>
#include <variant>

#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

// In the order iptables prints them; -m state knows only the first five.
constexpr std::array<NamedBit, 7> kStates = {{{"INVALID", 1U << 0},
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

constexpr std::array<NamedBit, 5> kStatuses = {{{"NONE", 0},
                                                {"EXPECTED", ctstatus::kExpected},
                                                {"SEEN_REPLY", ctstatus::kSeenReply},
                                                {"ASSURED", ctstatus::kAssured},
                                                {"CONFIRMED", ctstatus::kConfirmed}}};

const NamesType kStateType("connection states", kStates);
const NamesType kPlainStateType("connection states", std::span(kStates).first(kPlainStates));
const NamesType kStatusType("connection status bits", kStatuses);

// "RELATED,ESTABLISHED" as iptables prints a set; "NONE" for no status bit.
std::string names_text(std::uint32_t bits, const NamesType& names) {
  return names.text(bits, "NONE");
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

struct CtCondition {
  CtOption option = CtOption::kState;
  bool negated = false;
  std::uint32_t value = 0;  // state or status bits, protocol number, or 1 for REPLY
  IpPrefix prefix;          // the address options
  std::uint32_t low = 0;    // ports and remaining seconds
  std::uint32_t high = 0;
};

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
      return names_text(c.value, kStateType);
    case CtOption::kStatus:
      return names_text(c.value, kStatusType);
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

// One conntrack match holds all of a rule's ct options, as iptables loads
// one, and tests them in iptables' order as conntrack_mt.
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
  // "! ctstate NEW ctproto 6 ctdir REPLY"
  void list(ListRow& row) const override {
    std::string text;
    for (const CtCondition& c : conditions_) {
      text += std::string(text.empty() ? "" : " ") + (c.negated ? "! " : "") +
              std::string(kOptionKeys[static_cast<std::size_t>(c.option)]) + " " + value_text(c);
    }
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    line.matches += " -m conntrack";
    for (const CtCondition& c : conditions_) {
      line.matches += std::string(c.negated ? " !" : "") + " --" +
                      std::string(kOptionKeys[static_cast<std::size_t>(c.option)]) + " " +
                      value_text(c);
    }
  }

 private:
  std::vector<CtCondition> conditions_;  // in iptables' order
  std::optional<Family> family_;
};

// A protocol name or number, saved as its number as iptables-save does.
class CtProtocolType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "protocol"; }
  [[nodiscard]] Json example() const override { return "tcp"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    const auto number = protocol_number(v);
    if (!number) throw_expected(kWhat, v);
    return std::uint64_t{*number};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::to_string(std::get<std::uint64_t>(v));
  }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"anyOf", Json::array({Json{{"type", "string"}},
                               Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 255}}})}};
  }

 private:
  static constexpr std::string_view kWhat = "a protocol name (tcp, udp, icmp...) or a number 0-255";
};

// Whole seconds, or a range "lo:hi".
class SecondsRangeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "seconds range"; }
  [[nodiscard]] Json example() const override { return "10:60"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_string()) {
      const std::uint32_t seconds = parse_uint(v, 0xffffffff, kWhat);
      return CountRange{seconds, seconds};
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
    return CountRange{low, high};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    const auto& range = std::get<CountRange>(v);
    return std::to_string(range.low) +
           (range.low == range.high ? "" : ":" + std::to_string(range.high));
  }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 4294967295U}},
                               Json{{"type", "string"}, {"pattern", "^[0-9]+(:[0-9]+)?$"}}})}};
  }

 private:
  static constexpr std::string_view kWhat = "seconds 0-4294967295 or a range \"lo:hi\"";
};

const CtProtocolType kCtProtocol;
const SecondsRangeType kSecondsRange;
constexpr std::array<std::string_view, 2> kDirections = {"ORIGINAL", "REPLY"};
const ChoiceType kDirectionType("direction", kDirections);

CtCondition condition_of(const OptionValue& given) {
  CtCondition c;
  c.option = static_cast<CtOption>(
      std::find(kOptionKeys.begin(), kOptionKeys.end(), given.spec->key) - kOptionKeys.begin());
  c.negated = given.negated;
  std::visit(
      [&c](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, ValueMask>) {
          c.value = value.value;  // states or status bits
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          c.value = static_cast<std::uint32_t>(value);  // protocol, or 1 for REPLY
        } else if constexpr (std::is_same_v<T, IpPrefix>) {
          c.prefix = value;
        } else if constexpr (std::is_same_v<T, PortRange>) {
          c.low = value.low;
          c.high = value.high;
        } else if constexpr (std::is_same_v<T, CountRange>) {
          c.low = static_cast<std::uint32_t>(value.low);
          c.high = static_cast<std::uint32_t>(value.high);
        }
      },
      given.value);
  return c;
}

std::unique_ptr<Match> build_conntrack(const OptionValues& options,
                                       const BuildContext& /*context*/) {
  std::vector<CtCondition> conditions;
  const OptionValue* addressed = nullptr;  // the first address option
  for (const OptionValue& given : options.all()) {
    conditions.push_back(condition_of(given));
    const auto* prefix = std::get_if<IpPrefix>(&given.value);
    if (prefix == nullptr) continue;
    if (addressed == nullptr) {
      addressed = &given;
    } else if (std::get<IpPrefix>(addressed->value).address.family != prefix->address.family) {
      throw FieldError("\"" + std::string(addressed->spec->key) + "\" and \"" +
                       std::string(given.spec->key) +
                       "\" are of different families; a rule cannot mix IPv4 and IPv6");
    }
  }
  std::optional<Family> family;
  if (addressed != nullptr) family = std::get<IpPrefix>(addressed->value).address.family;
  return std::make_unique<ConntrackMatch>(std::move(conditions), family);
}

constexpr OptionSpec ct_option(std::size_t index, const ValueType& type, std::string_view flag,
                               std::string_view doc) {
  return {.key = kOptionKeys[index], .flag = flag, .type = &type, .negatable = true, .doc = doc};
}

// In the order iptables prints them (CtOption); ctdir cannot be negated.
const std::array<OptionSpec, 13> kConntrackOptions = {
    ct_option(0, kStateType, "--ctstate",
              "the packet's connection state; SNAT and DNAT: its addresses are translated"),
    ct_option(1, kCtProtocol, "--ctproto", "the connection's protocol"),
    ct_option(2, value_types::prefix(), "--ctorigsrc", "the original direction's source"),
    ct_option(3, value_types::prefix(), "--ctorigdst", "the original direction's destination"),
    ct_option(4, value_types::prefix(), "--ctreplsrc", "the reply direction's source"),
    ct_option(5, value_types::prefix(), "--ctrepldst", "the reply direction's destination"),
    ct_option(6, value_types::port_range(), "--ctorigsrcport",
              "the original direction's source port"),
    ct_option(7, value_types::port_range(), "--ctorigdstport",
              "the original direction's destination port"),
    ct_option(8, value_types::port_range(), "--ctreplsrcport", "the reply direction's source port"),
    ct_option(9, value_types::port_range(), "--ctrepldstport",
              "the reply direction's destination port"),
    ct_option(10, kStatusType, "--ctstatus", "one of the connection's status bits is set"),
    ct_option(11, kSecondsRange, "--ctexpire", "the seconds the connection has left"),
    OptionSpec{.key = kOptionKeys[12],
               .flag = "--ctdir",
               .type = &kDirectionType,
               .doc = "the packet's direction in its connection"}};

const MatchRegistrar kConntrack({.name = "conntrack",
                                 .summary = "the packet's connection: its state, tuples, status "
                                            "and time left",
                                 .options = kConntrackOptions,
                                 .needs = kNeedsTracking,
                                 .build = build_conntrack});

// ---- -m state

class StateMatch final : public Match {
 public:
  StateMatch(std::uint32_t states, bool negated) : states_(states), negated_(negated) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    return ((packet_state_bits(state, false) & states_) != 0) != negated_;
  }

  void list(ListRow& row) const override {
    row.add_extra(std::string(negated_ ? "! " : "") + "state " +
                  names_text(states_, kPlainStateType));
  }

 private:
  std::uint32_t states_;
  bool negated_;
};

std::unique_ptr<Match> build_state(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<StateMatch>(options.get<ValueMask>("state").value,
                                      options.negated("state"));
}

const std::array<OptionSpec, 1> kStateOptions = {{{.key = "state",
                                                   .flag = "--state",
                                                   .type = &kPlainStateType,
                                                   .negatable = true,
                                                   .doc = "the packet's connection state"}}};

const MatchRegistrar kState({.name = "state",
                             .summary = "the packet's connection state",
                             .options = kStateOptions,
                             .needs = kNeedsTracking,
                             .build = build_state});

}  // namespace

}  // namespace verdictd
