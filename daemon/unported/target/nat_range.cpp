#include "target/nat_range.hpp"

#include <algorithm>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kDccp = 33;

constexpr std::string_view kRangeWhat =
    R"(an address or "ADDR-ADDR", then optionally ":PORT" or ":PORT-PORT" ("10.0.0.1:8080", "[fd00::1]:8080", ":8080"))";
constexpr std::string_view kPortsWhat = R"(a port 0-65535 or a range "lo-hi")";

// iptables refuses ports unless the rule's protocol is one of these ("Need
// TCP, UDP, SCTP or DCCP with port specification"; ICMP's are its ids).
void require_port_protocol(const Json& rule_match) {
  const auto protocol = rule_protocol(rule_match);
  const bool has_ports = protocol && (*protocol == ipproto::kTcp || *protocol == ipproto::kUdp ||
                                      *protocol == ipproto::kSctp || *protocol == kDccp ||
                                      *protocol == ipproto::kIcmp);
  if (!has_ports) {
    throw FieldError(
        R"(ports need the rule to match "protocol" "tcp", "udp", "sctp", 33 (dccp) or "icmp")");
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

NatRange parse_range_value(const Json& v, const Json& rule_match) {
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
  if (!ports.empty()) {
    parse_ports_text(ports, v, range);
    require_port_protocol(rule_match);
  }
  return range;
}

template <typename Parse>
auto at_key(std::string_view key, Parse parse) {
  try {
    return parse();
  } catch (FieldError& e) {
    e.pointer_suffix = "/" + std::string(key) + e.pointer_suffix;
    throw;
  }
}

}  // namespace

NatRange parse_nat_range(const Json& options, std::string_view key, const Json& rule_match) {
  return at_key(key, [&] { return parse_range_value(options.at(std::string(key)), rule_match); });
}

void parse_nat_ports(const Json& options, std::string_view key, const Json& rule_match,
                     NatRange& range) {
  at_key(key, [&] {
    const Json& v = options.at(std::string(key));
    if (v.is_number()) {
      range.min_port = static_cast<std::uint16_t>(parse_uint(v, 0xffff, kPortsWhat));
      range.max_port = range.min_port;
      range.has_ports = true;
    } else {
      parse_ports_text(expect_string(v, kPortsWhat), v, range);
    }
    require_port_protocol(rule_match);
  });
}

bool parse_nat_flag(const Json& options, std::string_view key) {
  const auto it = options.find(std::string(key));
  if (it == options.end()) return false;
  if (!it->is_boolean()) {
    throw FieldError("expected true or false, got " + it->dump(), "/" + std::string(key));
  }
  return it->get<bool>();
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

std::string nat_flags_save_text(const NatRange& range) {
  return std::string(range.random ? " --random" : "") +
         (range.random_fully ? " --random-fully" : "") + (range.persistent ? " --persistent" : "");
}

std::string nat_ports_list_text(std::string_view label, const NatRange& ports) {
  std::string text = nat_flags_list_text(ports);
  if (ports.has_ports) return std::string(label) + " " + nat_ports_text(ports) + text;
  return text.empty() ? text : text.substr(1);
}

std::string nat_ports_save_text(std::string_view name, const NatRange& ports) {
  return "-j " + std::string(name) +
         (ports.has_ports ? " --to-ports " + nat_ports_text(ports) : "") +
         nat_flags_save_text(ports);
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
  return bind_connection(*nat, state, kind_.manip, range_);
}

std::optional<Family> NatRangeTarget::family() const {
  if (!range_.has_addresses) return std::nullopt;
  return range_.min_address.family;
}

std::string NatRangeTarget::list_extra() const {
  return "to:" + nat_range_text(range_) + nat_flags_list_text(range_);
}

std::string NatRangeTarget::save() const {
  return "-j " + std::string(kind_.name) + " " + std::string(kind_.save_option) + " " +
         nat_range_text(range_) + nat_flags_save_text(range_);
}

}  // namespace verdictd
