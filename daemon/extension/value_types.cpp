// The shared value types: thin descriptions over the parsers of
// extension/values.hpp, each with its iptables-save text and JSON Schema.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/value_type.hpp"

namespace verdictd {

namespace {

Json any_of(std::initializer_list<Json> schemas) {
  Json list = Json::array();
  for (const Json& s : schemas) list.push_back(s);
  return Json{{"anyOf", list}};
}

class FlagType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "flag"; }
  [[nodiscard]] std::string syntax() const override { return "true"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (v != true) throw_expected("true", v);
    return true;
  }
  [[nodiscard]] std::string save_text(const Value& /*v*/) const override { return {}; }
  [[nodiscard]] Json example() const override { return true; }
  [[nodiscard]] Json schema() const override { return Json{{"const", true}}; }
  [[nodiscard]] std::size_t arguments() const override { return 0; }
};

class NumberType final : public ValueType {
 public:
  explicit NumberType(std::uint64_t max) : max_(max) {}
  [[nodiscard]] std::string_view name() const override { return "number"; }
  [[nodiscard]] std::string syntax() const override {
    return "a number 0-" + std::to_string(max_) + ", or a string holding one";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    return std::uint64_t{parse_uint(v, max_, "a number 0-" + std::to_string(max_))};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::to_string(std::get<std::uint64_t>(v));
  }
  [[nodiscard]] Json example() const override { return 1; }
  [[nodiscard]] Json schema() const override {
    return any_of({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", max_}},
                   Json{{"type", "string"}, {"pattern", "^(0|[1-9][0-9]*)$"}}});
  }

 private:
  std::uint64_t max_;
};

Json range_schema() {
  return any_of({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 65535}},
                 Json{{"type", "string"}, {"pattern", "^([0-9]*)(:[0-9]*)?$"}}});
}

// Ports may also be written as the system's service names ("ssh",
// "domain:http"); the loader checks the names, the schema only the shape.
Json port_range_schema() {
  return any_of({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 65535}},
                 Json{{"type", "string"}, {"pattern", "^([^:]*)(:[^:]*)?$"}}});
}

class PortRangeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "port range"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(a port 0-65535 or a service name, or "lo:hi" (":hi" and "lo:" leave an end open))";
  }
  [[nodiscard]] Value parse(const Json& v) const override { return parse_port_range(v); }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<PortRange>(v).to_string();
  }
  [[nodiscard]] Json example() const override { return 22; }
  [[nodiscard]] Json schema() const override { return port_range_schema(); }
};

class PortListType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "port list"; }
  [[nodiscard]] std::string syntax() const override {
    return "a port or range, or a list of up to 15 of them (a range counts two)";
  }
  [[nodiscard]] Value parse(const Json& v) const override { return parse_port_list(v); }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    std::string text;
    for (const PortRange& r : std::get<std::vector<PortRange>>(v)) {
      text += (text.empty() ? "" : ",") + r.to_string();
    }
    return text;
  }
  [[nodiscard]] Json example() const override { return Json::array({22, "1024:2048"}); }
  [[nodiscard]] Json schema() const override {
    return any_of({port_range_schema(), Json{{"type", "array"},
                                             {"minItems", 1},
                                             {"maxItems", 15},
                                             {"items", port_range_schema()}}});
  }
  [[nodiscard]] bool takes_list() const override { return true; }
};

class U16RangeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "16-bit range"; }
  [[nodiscard]] std::string syntax() const override { return R"(a number 0-65535 or "lo:hi")"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    return parse_u16_range(v, R"(a number 0-65535 or "lo:hi")");
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<PortRange>(v).to_string();
  }
  [[nodiscard]] Json example() const override { return "64:1500"; }
  [[nodiscard]] Json schema() const override { return range_schema(); }
};

class PrefixType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "address/prefix"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(an IPv4 or IPv6 address, with "/length" or a dotted mask for a network)";
  }
  [[nodiscard]] Value parse(const Json& v) const override { return parse_prefix(v); }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<IpPrefix>(v).to_string();
  }
  [[nodiscard]] Json example() const override { return "10.0.0.0/8"; }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}}; }
};

class AddressType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "address"; }
  [[nodiscard]] std::string syntax() const override { return "an IPv4 or IPv6 address"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    const IpAddress address = parse_address(v);
    return IpPrefix{address, static_cast<int>(address.size() * 8)};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<IpPrefix>(v).address.to_string();
  }
  [[nodiscard]] Json example() const override { return "10.0.0.1"; }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}}; }
};

class AddressRangeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "address range"; }
  [[nodiscard]] std::string syntax() const override {
    return R"("first-last": two addresses of one family, first <= last)";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    constexpr std::string_view kWhat =
        R"("first-last", two addresses of one family with first <= last)";
    const std::string& text = expect_string(v, kWhat);
    const auto dash = text.find('-');
    const auto first = IpAddress::parse(std::string_view(text).substr(0, dash));
    const auto last = dash == std::string::npos
                          ? first
                          : IpAddress::parse(std::string_view(text).substr(dash + 1));
    if (!first || !last || first->family != last->family || *last < *first) {
      throw_expected(kWhat, v);
    }
    return AddressRange{*first, *last};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    const auto& range = std::get<AddressRange>(v);
    return range.first.to_string() + "-" + range.last.to_string();
  }
  [[nodiscard]] Json example() const override { return "10.0.0.1-10.0.0.9"; }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}}; }
};

class ValueMaskType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "mark/mask"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(32 bits, "value" or "value/mask" (decimal or 0x hex))";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    const auto [value, mask] = parse_value_mask(v, "a mark \"value\" or \"value/mask\" of 32 bits");
    return ValueMask{value, mask};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    const auto& m = std::get<ValueMask>(v);
    return mark_match_text(m.value, m.mask);
  }
  [[nodiscard]] Json example() const override { return "0x1/0xff"; }
  [[nodiscard]] Json schema() const override {
    return any_of({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 4294967295U}},
                   Json{{"type", "string"}}});
  }
};

class Bits32Type final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "32 bits"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(32 bits without a mask, such as "0xff")";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    return ValueMask{parse_mark_bits(v), 0xffffffff};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return hex(std::get<ValueMask>(v).value);
  }
  [[nodiscard]] Json example() const override { return "0xff"; }
  [[nodiscard]] Json schema() const override {
    return any_of({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 4294967295U}},
                   Json{{"type", "string"}}});
  }
};

class InterfaceType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "interface"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(an interface name of 1 to 15 characters; "+" at the end matches a prefix)";
  }
  [[nodiscard]] Value parse(const Json& v) const override { return parse_interface(v); }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json example() const override { return "eth0"; }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"minLength", 1}, {"maxLength", 15}};
  }
};

class TextType final : public ValueType {
 public:
  explicit TextType(std::size_t max_length) : max_length_(max_length) {}
  [[nodiscard]] std::string_view name() const override { return "text"; }
  [[nodiscard]] std::string syntax() const override {
    return "a string of at most " + std::to_string(max_length_) + " characters";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    const std::string what = "a string of at most " + std::to_string(max_length_) + " characters";
    const std::string& text = expect_string(v, what);
    if (text.size() > max_length_) throw_expected(what, v);
    return text;
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json example() const override { return "text"; }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"maxLength", max_length_}};
  }

 private:
  std::size_t max_length_;
};

std::string quoted_list(std::span<const std::string_view> names, std::string_view last_joiner) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) text += i + 1 == names.size() ? last_joiner : ", ";
    text += "\"" + std::string(names[i]) + "\"";
  }
  return text;
}

}  // namespace

namespace value_types {

const ValueType& flag() {
  static const FlagType type;
  return type;
}

const ValueType& number(std::uint64_t max) {
  static const NumberType u8(0xff);
  static const NumberType u16(0xffff);
  static const NumberType u32(0xffffffff);
  static const NumberType bit(1);
  static const NumberType u2(3);
  static const NumberType u6(0x3f);
  if (max == 1) return bit;
  if (max == 3) return u2;
  if (max == 0x3f) return u6;
  if (max == 0xff) return u8;
  if (max == 0xffff) return u16;
  return u32;
}

const ValueType& port_range() {
  static const PortRangeType type;
  return type;
}

const ValueType& port_list() {
  static const PortListType type;
  return type;
}

const ValueType& u16_range() {
  static const U16RangeType type;
  return type;
}

const ValueType& prefix() {
  static const PrefixType type;
  return type;
}

const ValueType& address() {
  static const AddressType type;
  return type;
}

const ValueType& address_range() {
  static const AddressRangeType type;
  return type;
}

const ValueType& value_mask() {
  static const ValueMaskType type;
  return type;
}

const ValueType& bits32() {
  static const Bits32Type type;
  return type;
}

const ValueType& interface() {
  static const InterfaceType type;
  return type;
}

const ValueType& text(std::size_t max_length) {
  static const TextType comment(255);
  static const TextType prefix_text(29);
  return max_length == 29 ? prefix_text : comment;
}

}  // namespace value_types

std::string ChoiceType::syntax() const { return quoted_list(choices_, " or "); }

Value ChoiceType::parse(const Json& v) const {
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    if (v == choices_[i]) return std::uint64_t{i};
  }
  throw_expected(syntax(), v);
}

std::string ChoiceType::save_text(const Value& v) const {
  return std::string(choices_[std::get<std::uint64_t>(v)]);
}

Json ChoiceType::example() const { return choices_.front(); }

Json ChoiceType::schema() const {
  Json names = Json::array();
  for (std::string_view c : choices_) names.push_back(c);
  return Json{{"enum", names}};
}

std::string NamesType::syntax() const {
  std::string names;
  for (const NamedBit& n : names_) names += (names.empty() ? "" : ", ") + std::string(n.name);
  return "a list or comma-separated string of " + names +
         (empty_list_is_none_ ? "" : ", at least one");
}

Value NamesType::parse(const Json& v) const {
  auto bits_of = [this](std::string_view name) -> std::optional<std::uint32_t> {
    const auto known = std::find_if(names_.begin(), names_.end(),
                                    [&](const NamedBit& n) { return n.name == name; });
    if (known == names_.end()) return std::nullopt;
    return known->bits;
  };
  std::uint32_t bits = 0;
  if (v.is_array()) {
    if (v.empty() && !empty_list_is_none_) throw_expected(syntax(), v);
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto named = v[i].is_string() ? bits_of(v[i].get_ref<const std::string&>()) : std::nullopt;
      if (!named) {
        throw FieldError("expected " + syntax() + ", got " + v[i].dump(), "/" + std::to_string(i));
      }
      bits |= *named;
    }
    return ValueMask{bits, bits};
  }
  std::string_view text = expect_string(v, syntax());
  while (true) {
    const auto comma = text.find(',');
    auto named = bits_of(text.substr(0, comma));
    if (!named) throw_expected(syntax(), v);
    bits |= *named;
    if (comma == std::string_view::npos) return ValueMask{bits, bits};
    text.remove_prefix(comma + 1);
  }
}

std::string NamesType::text(std::uint32_t bits, std::string_view none) const {
  std::string text;
  for (const NamedBit& n : names_) {
    if (n.bits != 0 && (bits & n.bits) == n.bits) {
      text += (text.empty() ? "" : ",") + std::string(n.name);
    }
  }
  return text.empty() ? std::string(none) : text;
}

std::string NamesType::save_text(const Value& v) const {
  // A set may name the empty set ("NONE" of --ctstatus).
  const auto none =
      std::find_if(names_.begin(), names_.end(), [](const NamedBit& n) { return n.bits == 0; });
  return text(std::get<ValueMask>(v).value, none == names_.end() ? "" : none->name);
}

Json NamesType::example() const { return names_.back().name; }

Json NamesType::schema() const {
  Json names = Json::array();
  for (const NamedBit& n : names_) names.push_back(n.name);
  const std::string one = "(" + [&] {
    std::string alternatives;
    for (const NamedBit& n : names_) {
      alternatives += (alternatives.empty() ? "" : "|") + std::string(n.name);
    }
    return alternatives;
  }() + ")";
  return any_of({Json{{"type", "string"}, {"pattern", "^" + one + "(," + one + ")*$"}},
                 Json{{"type", "array"},
                      {"minItems", empty_list_is_none_ ? 0 : 1},
                      {"items", Json{{"enum", names}}}}});
}

std::string IcmpTypeType::save_text(const Value& v) const {
  const auto& type = std::get<IcmpType>(v);
  return any_type_ && type.type == *any_type_ ? "any" : type.to_string();
}

Json IcmpTypeType::example() const { return "echo-request"; }

Value IcmpTypeType::parse(const Json& v) const { return parse_icmp_type(v, names_, what_); }

Json IcmpTypeType::schema() const {
  Json names = Json::array();
  for (const IcmpTypeName& n : names_) names.push_back(n.name);
  return any_of({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 255}},
                 Json{{"type", "string"}, {"pattern", "^[0-9]+/[0-9]+$"}}, Json{{"enum", names}}});
}

}  // namespace verdictd
