#include "extension/values.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "extension/error.hpp"
#include "extension/system_names.hpp"
#include "text/json_position.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kMaxPortSlots = 15;      // XT_MULTI_PORTS
constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ less the NUL
constexpr std::uint64_t kMaxU16 = 0xffff;
constexpr std::uint64_t kMaxU32 = 0xffffffff;

// Decimal digits, or "0x" and hex digits when `allow_hex`. A decimal with a
// leading zero is refused: iptables would read it as octal.
std::optional<std::uint64_t> number_from_text(std::string_view text, bool allow_hex) {
  unsigned base = 10;
  if (allow_hex && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  } else if (text.size() > 1 && text[0] == '0') {
    return std::nullopt;
  }
  if (text.empty() || text.size() > 10) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    unsigned digit = 0;
    if (std::isdigit(u) != 0) {
      digit = u - '0';
    } else if (base == 16 && std::isxdigit(u) != 0) {
      digit = static_cast<unsigned>(std::tolower(u) - 'a' + 10);
    } else {
      return std::nullopt;
    }
    value = value * base + digit;
  }
  return value;
}

// A JSON number, or a string holding one, no greater than `max`.
std::optional<std::uint64_t> bounded_number(const Json& v, std::uint64_t max, bool allow_hex) {
  std::optional<std::uint64_t> value;
  if (v.is_number_unsigned()) {
    value = v.get<std::uint64_t>();
  } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    value = static_cast<std::uint64_t>(v.get<std::int64_t>());
  } else if (v.is_string()) {
    value = number_from_text(v.get_ref<const std::string&>(), allow_hex);
  }
  if (value && *value > max) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint64_t> bounded_text(std::string_view text, std::uint64_t max,
                                          bool allow_hex) {
  auto value = number_from_text(text, allow_hex);
  if (value && *value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::string PortRange::to_string(char separator) const {
  if (is_single()) {
    return std::to_string(low);
  }
  return std::to_string(low) + separator + std::to_string(high);
}

void throw_expected(std::string_view what, const Json& got) {
  throw FieldError("expected " + std::string(what) + ", got " + got.dump());
}

PortRange parse_u16_range(const Json& v, std::string_view what) {
  if (auto single = bounded_number(v, kMaxU16, false)) {
    const auto port = static_cast<std::uint16_t>(*single);
    return PortRange{port, port};
  }
  if (!v.is_string()) {
    throw_expected(what, v);
  }
  const std::string& text = v.get_ref<const std::string&>();
  const auto colon = text.find(':');
  if (colon == std::string::npos) {
    throw_expected(what, v);
  }
  const std::string_view low_text = std::string_view(text).substr(0, colon);
  const std::string_view high_text = std::string_view(text).substr(colon + 1);
  // ":hi" and "lo:" leave out an end, as iptables allows.
  const auto low =
      low_text.empty() ? std::optional<std::uint64_t>(0) : bounded_text(low_text, kMaxU16, false);
  const auto high = high_text.empty() ? std::optional<std::uint64_t>(kMaxU16)
                                      : bounded_text(high_text, kMaxU16, false);
  if (!low || !high) {
    throw_expected(what, v);
  }
  if (*low > *high) {
    throw_expected("a range \"lo:hi\" with lo <= hi", v);
  }
  return PortRange{static_cast<std::uint16_t>(*low), static_cast<std::uint16_t>(*high)};
}

PortRange parse_port_range(const Json& v) {
  if (!v.is_string()) return parse_u16_range(v, "a port 0-65535 or \"lo:hi\"");
  // Each end may be a service name ("ssh", "domain:http"), looked up as
  // iptables looks it up when the rule is written.
  const std::string& text = v.get_ref<const std::string&>();
  auto number_of = [](std::string_view end) {
    // Service names start with a letter; anything else is left to the
    // number's error.
    if (end.empty() || std::isalpha(static_cast<unsigned char>(end.front())) == 0) {
      return std::string(end);
    }
    const std::optional<std::uint16_t> port = service_port(std::string(end));
    if (!port) {
      throw FieldError("expected a port 0-65535 or a service name, got " +
                       Json(std::string(end)).dump() +
                       " (no such service in the system's "
                       "database)");
    }
    return std::to_string(*port);
  };
  const auto colon = text.find(':');
  const std::string numbers = colon == std::string::npos
                                  ? number_of(text)
                                  : number_of(std::string_view(text).substr(0, colon)) + ":" +
                                        number_of(std::string_view(text).substr(colon + 1));
  return parse_u16_range(numbers == text ? v : Json(numbers), "a port 0-65535 or \"lo:hi\"");
}

std::vector<PortRange> parse_port_list(const Json& v) {
  if (!v.is_array()) {
    return {parse_port_range(v)};
  }
  if (v.empty()) {
    throw_expected("a list of 1 to 15 ports", v);
  }
  std::vector<PortRange> ports;
  std::size_t slots = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    try {
      ports.push_back(parse_port_range(v[i]));
    } catch (FieldError& e) {
      e.pointer_suffix = "/" + std::to_string(i) + e.pointer_suffix;
      throw;
    }
    // A range takes two of multiport's slots; "5:5" is written as one port.
    slots += ports.back().is_single() ? 1 : 2;
  }
  if (slots > kMaxPortSlots) {
    throw_expected("at most 15 ports, a range counting as two", v);
  }
  return ports;
}

std::uint32_t parse_uint(const Json& v, std::uint64_t max, std::string_view what) {
  auto value = bounded_number(v, std::min(max, kMaxU32), false);
  if (!value) {
    throw_expected(what, v);
  }
  return static_cast<std::uint32_t>(*value);
}

std::pair<std::uint32_t, std::uint32_t> parse_value_mask(const Json& v, std::string_view what) {
  if (auto value = bounded_number(v, kMaxU32, true)) {
    return {static_cast<std::uint32_t>(*value), static_cast<std::uint32_t>(kMaxU32)};
  }
  if (!v.is_string()) {
    throw_expected(what, v);
  }
  const std::string& text = v.get_ref<const std::string&>();
  const auto slash = text.find('/');
  if (slash == std::string::npos) {
    throw_expected(what, v);
  }
  auto value = bounded_text(std::string_view(text).substr(0, slash), kMaxU32, true);
  auto mask = bounded_text(std::string_view(text).substr(slash + 1), kMaxU32, true);
  if (!value || !mask) {
    throw_expected(what, v);
  }
  return {static_cast<std::uint32_t>(*value), static_cast<std::uint32_t>(*mask)};
}

std::uint32_t parse_mark_bits(const Json& v) {
  constexpr std::string_view kWhatBits = "a 32-bit value such as \"0xff\", without a mask";
  if (v.is_string() && v.get_ref<const std::string&>().find('/') != std::string::npos) {
    throw_expected(kWhatBits, v);
  }
  return parse_value_mask(v, kWhatBits).first;
}

std::string mark_match_text(std::uint32_t value, std::uint32_t mask) {
  return hex(value) + (mask == static_cast<std::uint32_t>(kMaxU32) ? "" : "/" + hex(mask));
}

std::string mark_operation_text(std::uint32_t value, std::uint32_t mask) {
  if (value == 0) return "and " + hex(~mask);
  if (value == mask) return "or " + hex(value);
  if (mask == 0) return "xor " + hex(value);
  if (mask == static_cast<std::uint32_t>(kMaxU32)) return "set " + hex(value);
  return "xset " + hex(value) + "/" + hex(mask);
}

std::string save_string(const std::string& text) {
  const bool bare = !text.empty() && text.find_first_not_of(
                                         "_-0123456789abcdefghijklmnopqrstuvwxyz"
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos;
  if (bare) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + '"';
}

IpPrefix parse_prefix(const Json& v) {
  std::optional<IpPrefix> prefix;
  if (v.is_string()) {
    prefix = IpPrefix::parse(v.get_ref<const std::string&>());
  }
  if (!prefix) {
    throw_expected("an IPv4 or IPv6 address or prefix (address/length)", v);
  }
  return *prefix;
}

IpAddress parse_address(const Json& v) {
  std::optional<IpAddress> address;
  if (v.is_string()) {
    address = IpAddress::parse(v.get_ref<const std::string&>());
  }
  if (!address) {
    throw_expected("an IPv4 or IPv6 address", v);
  }
  return *address;
}

std::string parse_interface(const Json& v) {
  constexpr std::string_view kWhat =
      "an interface name of 1 to 15 characters, \"+\" at the end for a prefix";
  const std::string& name = expect_string(v, kWhat);
  const bool valid = !name.empty() && name.size() <= kMaxInterfaceName &&
                     std::none_of(name.begin(), name.end(), [](char c) {
                       return c == '/' || std::isspace(static_cast<unsigned char>(c)) != 0;
                     });
  if (!valid) {
    throw_expected(kWhat, v);
  }
  return name;
}

const std::string& expect_string(const Json& v, std::string_view what) {
  if (!v.is_string()) {
    throw_expected(what, v);
  }
  return v.get_ref<const std::string&>();
}

void expect_object_keys(const Json& v, std::initializer_list<std::string_view> allowed,
                        std::string_view what) {
  if (!v.is_object()) {
    throw_expected(what, v);
  }
  for (const auto& [key, value] : v.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    std::string names;
    for (std::string_view a : allowed) {
      names += (names.empty() ? "" : ", ") + std::string(a);
    }
    throw FieldError("unknown key " + Json(key).dump() + "; expected " + names,
                     "/" + json_pointer_token(key));
  }
}

std::string IcmpType::to_string() const {
  return std::to_string(type) + (has_code() ? "/" + std::to_string(code_min) : "");
}

IcmpType parse_icmp_type(const Json& v, std::span<const IcmpTypeName> names,
                         std::string_view what) {
  constexpr std::uint64_t kMaxU8 = 0xff;
  if (auto type = bounded_number(v, kMaxU8, false)) {
    return IcmpType{static_cast<std::uint8_t>(*type), 0, 0xff};
  }
  if (!v.is_string()) {
    throw_expected(what, v);
  }
  const std::string& text = v.get_ref<const std::string&>();
  auto named = std::find_if(names.begin(), names.end(),
                            [&](const IcmpTypeName& n) { return n.name == text; });
  if (named != names.end()) {
    return named->type;
  }
  const auto slash = text.find('/');
  if (slash == std::string::npos) {
    throw_expected(what, v);
  }
  auto type = bounded_text(std::string_view(text).substr(0, slash), kMaxU8, false);
  auto code = bounded_text(std::string_view(text).substr(slash + 1), kMaxU8, false);
  if (!type || !code) {
    throw_expected(what, v);
  }
  const auto code8 = static_cast<std::uint8_t>(*code);
  return IcmpType{static_cast<std::uint8_t>(*type), code8, code8};
}

}  // namespace verdictd
