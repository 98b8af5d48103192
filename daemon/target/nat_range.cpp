#include "target/nat_range.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kDccp = 33;

constexpr std::string_view kRangeWhat =
    R"(an address or "ADDR-ADDR", then optionally ":PORT" or ":PORT-PORT" ("10.0.0.1:8080", "[fd00::1]:8080", ":8080"))";
constexpr std::string_view kPortsWhat = R"(a port 0-65535 or a range "lo-hi")";

// iptables refuses ports unless the rule's protocol is one of these ("Need
// TCP, UDP, SCTP or DCCP with port specification"; ICMP's are its ids).
void require_port_protocol(std::optional<std::uint8_t> protocol, std::string_view key) {
  const bool has_ports = protocol && (*protocol == ipproto::kTcp || *protocol == ipproto::kUdp ||
                                      *protocol == ipproto::kSctp || *protocol == kDccp ||
                                      *protocol == ipproto::kIcmp);
  if (!has_ports) {
    throw FieldError(
        R"(ports need the rule to match "protocol" "tcp", "udp", "sctp", 33 (dccp) or "icmp")",
        "/" + std::string(key));
  }
}

// "P" or "P-Q" with P <= Q; `whole` is the value reported in errors.
void parse_ports_text(std::string_view text, const Json& whole, NatRange& range) {
  const auto dash = text.find('-');
  const auto port = [&](std::string_view part) {
    return static_cast<std::uint16_t>(parse_uint(Json(std::string(part)), 0xffff, kPortsWhat));
  };
  try {
    range.min_port = port(text.substr(0, dash));
    range.max_port = dash == std::string_view::npos ? range.min_port : port(text.substr(dash + 1));
  } catch (const FieldError&) {
    throw_expected(kPortsWhat, whole);
  }
  if (range.min_port > range.max_port) {
    throw_expected(R"(a port range "lo-hi" with lo <= hi)", whole);
  }
  range.has_ports = true;
}

// "A" or "A-B" of one family with A <= B.
void parse_addresses_text(std::string_view text, const Json& whole, NatRange& range) {
  const auto dash = text.find('-');
  const auto min = IpAddress::parse(text.substr(0, dash));
  const auto max = dash == std::string_view::npos ? min : IpAddress::parse(text.substr(dash + 1));
  if (!min || !max) throw_expected(kRangeWhat, whole);
  if (min->family != max->family) {
    throw_expected("both ends of an address range in one family", whole);
  }
  if (*max < *min) throw_expected(R"(an address range "lo-hi" with lo <= hi)", whole);
  range.has_addresses = true;
  range.min_address = *min;
  range.max_address = *max;
}

NatRange parse_range_value(const Json& v) {
  const std::string_view text = expect_string(v, kRangeWhat);
  std::string_view addresses = text;
  std::string_view ports;
  bool bracketed = false;
  if (text.starts_with('[')) {
    // "[IPv6]" or "[IPv6]:PORTS": the brackets keep the address's colons apart.
    const auto close = text.find(']');
    if (close == std::string_view::npos) throw_expected(kRangeWhat, v);
    addresses = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) throw_expected(kRangeWhat, v);
    if (rest == ":") throw_expected(kPortsWhat, v);
    ports = rest.substr(rest.empty() ? 0 : 1);
    bracketed = true;
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    // One colon separates an IPv4 range (or nothing) from the ports; more
    // make an IPv6 address, written without ports.
    const auto colon = text.find(':');
    addresses = text.substr(0, colon);
    ports = text.substr(colon + 1);
    if (ports.empty()) throw_expected(kPortsWhat, v);
  }
  if (addresses.empty() && !bracketed && ports.empty()) throw_expected(kRangeWhat, v);
  NatRange range;
  if (!addresses.empty() || bracketed) parse_addresses_text(addresses, v, range);
  if (bracketed && range.min_address.family != Family::kIPv6) {
    throw_expected("brackets around IPv6 addresses only", v);
  }
  if (!ports.empty()) parse_ports_text(ports, v, range);
  return range;
}

// A range is kept as written; the target reads it again once it is built.
class NatRangeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "NAT range"; }
  [[nodiscard]] Json example() const override { return "10.0.0.1"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kRangeWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    static_cast<void>(parse_range_value(v));
    return v.get<std::string>();
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return nat_range_text(parse_range_value(Json(std::get<std::string>(v))));
  }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}}; }
};

class NatPortsType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "NAT ports"; }
  [[nodiscard]] Json example() const override { return "1024-2048"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kPortsWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    NatRange range;
    if (v.is_number()) {
      range.min_port = static_cast<std::uint16_t>(parse_uint(v, 0xffff, kPortsWhat));
      range.max_port = range.min_port;
    } else {
      parse_ports_text(expect_string(v, kPortsWhat), v, range);
    }
    return PortRange{range.min_port, range.max_port};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<PortRange>(v).to_string('-');
  }
  [[nodiscard]] Json schema() const override {
    Json forms = Json::array();
    forms.push_back(Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 65535}});
    forms.push_back(Json{{"type", "string"}, {"pattern", "^[0-9]+(-[0-9]+)?$"}});
    return Json{{"anyOf", forms}};
  }
};

class BooleanType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "boolean"; }
  [[nodiscard]] Json example() const override { return true; }
  [[nodiscard]] std::string syntax() const override { return "true or false"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_boolean()) throw_expected("true or false", v);
    return v.get<bool>();
  }
  [[nodiscard]] std::string save_text(const Value& /*v*/) const override { return {}; }
  [[nodiscard]] Json schema() const override { return Json{{"type", "boolean"}}; }
  [[nodiscard]] std::size_t arguments() const override { return 0; }
};

const NatRangeType kRangeType;
const NatPortsType kPortsType;
const BooleanType kBooleanType;

// " --random" when true, nothing when false.
std::string save_flag(const OptionValue& option) {
  return std::get<bool>(option.value) ? " " + std::string(option.spec->flag) : "";
}

}  // namespace

OptionSpec nat_range_option(std::string_view key, std::string_view flag, std::string_view doc) {
  return {.key = key, .flag = flag, .type = &kRangeType, .mandatory = true, .doc = doc};
}

OptionSpec nat_ports_option() {
  return {.key = "to_ports",
          .flag = "--to-ports",
          .type = &kPortsType,
          .doc = "the ports to map to (the rule's protocol must have ports)"};
}

OptionSpec nat_flag_option(std::string_view key, std::string_view flag, std::string_view doc) {
  return {.key = key, .flag = flag, .type = &kBooleanType, .doc = doc, .save = save_flag};
}

NatRange nat_range_from(const OptionValues& options, const BuildContext& context) {
  NatRange range;
  for (const OptionValue& option : options.all()) {
    const std::string_view key = option.spec->key;
    if (option.spec->type == &kRangeType) {
      range = parse_range_value(Json(std::get<std::string>(option.value)));
    } else if (option.spec->type == &kPortsType) {
      const auto& ports = std::get<PortRange>(option.value);
      range.has_ports = true;
      range.min_port = ports.low;
      range.max_port = ports.high;
    } else if (key == "random") {
      range.random = std::get<bool>(option.value);
    } else if (key == "random_fully") {
      range.random_fully = std::get<bool>(option.value);
    } else if (key == "persistent") {
      range.persistent = std::get<bool>(option.value);
    }
    const bool maps_ports = option.spec->type == &kRangeType || option.spec->type == &kPortsType;
    if (maps_ports && range.has_ports) require_port_protocol(context.protocol, key);
  }
  return range;
}

std::string nat_range_text(const NatRange& range) {
  std::string text;
  if (range.has_addresses) {
    text = range.min_address.to_string();
    if (range.max_address != range.min_address) text += "-" + range.max_address.to_string();
    if (range.has_ports && range.min_address.family == Family::kIPv6) text = "[" + text + "]";
  }
  if (range.has_ports) text += ":" + nat_ports_text(range);
  return text;
}

std::string nat_ports_text(const NatRange& range) {
  return std::to_string(range.min_port) +
         (range.max_port != range.min_port ? "-" + std::to_string(range.max_port) : "");
}

std::string nat_flags_list_text(const NatRange& range) {
  return std::string(range.random ? " random" : "") + (range.random_fully ? " random-fully" : "") +
         (range.persistent ? " persistent" : "");
}

std::string nat_ports_list_text(std::string_view label, const NatRange& ports) {
  std::string text = nat_flags_list_text(ports);
  if (ports.has_ports) return std::string(label) + " " + nat_ports_text(ports) + text;
  return text.empty() ? text : text.substr(1);
}

bool nat_range_applies_to(const NatRange& range, Family family) {
  return !range.has_addresses || range.min_address.family == family;
}

NatContext* nat_context(const EvalState& state) {
  return state.conntrack == nullptr ? nullptr : state.nat;
}

TargetAction bind_connection(NatContext& nat, EvalState& state, std::uint8_t manip,
                             const NatRange& range) {
  return nat.bind(*state.conntrack, manip, range) ? TargetAction::kAccept : TargetAction::kDrop;
}

TargetAction NatRangeTarget::apply(const PacketView& packet, EvalState& state) const {
  if (!nat_range_applies_to(range_, packet.family)) return TargetAction::kContinue;
  NatContext* nat = nat_context(state);
  if (nat == nullptr) return TargetAction::kAccept;
  return bind_connection(*nat, state, manip_, range_);
}

std::optional<Family> NatRangeTarget::family() const {
  if (!range_.has_addresses) return std::nullopt;
  return range_.min_address.family;
}

std::string NatRangeTarget::list_extra() const {
  return "to:" + nat_range_text(range_) + nat_flags_list_text(range_);
}

}  // namespace verdictd
