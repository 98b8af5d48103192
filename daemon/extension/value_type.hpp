// The kinds of value an extension's options take, each parsed by one shared
// parser (as iptables' xtables_option_type: XTTYPE_PORTRC, XTTYPE_MARKMASK32,
// …). A value type reads the JSON, says in its error what it expected, prints
// the value as iptables-save does, and describes itself for the JSON Schema
// and the ruleset reference (verdictd.ruleset(5)).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "extension/values.hpp"
#include "packet/address.hpp"

namespace verdictd {

// A 32-bit value under a mask ("0x1/0xff"); the mask is all ones when not written.
struct ValueMask {
  std::uint32_t value = 0;
  std::uint32_t mask = 0xffffffff;
};

// Two addresses of one family, first <= last ("10.0.0.1-10.0.0.9").
struct AddressRange {
  IpAddress first;
  IpAddress last;
};

// Counts from low to high, as --connbytes and --ctexpire take them.
struct CountRange {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
};

// What a value type parses to. An extension reads the alternative its
// option's type produces (OptionValues::get<T>).
using Value =
    std::variant<std::monostate, bool, std::uint64_t, double, std::string, PortRange,
                 std::vector<PortRange>, IpPrefix, AddressRange, ValueMask, IcmpType, CountRange>;

class ValueType {
 public:
  ValueType() = default;
  ValueType(const ValueType&) = delete;
  ValueType& operator=(const ValueType&) = delete;
  ValueType(ValueType&&) = delete;
  ValueType& operator=(ValueType&&) = delete;
  virtual ~ValueType() = default;

  // What the reference calls it: "port range", "mark/mask".
  [[nodiscard]] virtual std::string_view name() const = 0;
  // How it is written, for the reference: `22, "1024:65535", ":1023"`.
  [[nodiscard]] virtual std::string syntax() const = 0;
  // Throws FieldError("expected …, got <the JSON>") when `v` is not one.
  [[nodiscard]] virtual Value parse(const Json& v) const = 0;
  // As iptables-save prints it after the option's flag.
  [[nodiscard]] virtual std::string save_text(const Value& v) const = 0;
  // A JSON Schema of the written forms.
  [[nodiscard]] virtual Json schema() const = 0;
  // A value of this type, for the reference and the tests of every option.
  [[nodiscard]] virtual Json example() const = 0;
  // True when the value may be written as a JSON array (a list of ports):
  // a key several modules own goes to the one that takes its shape.
  [[nodiscard]] virtual bool takes_list() const { return false; }
  // How many words its iptables option takes on the command line: none for
  // a value the option's presence gives (a flag, a boolean), two for SCTP's
  // "--chunk-types any INIT" (joined by a space in the JSON).
  [[nodiscard]] virtual std::size_t arguments() const { return 1; }
};

// The shared value types. An extension with a value of its own (the names of
// connection states) defines its type in its file, usually as a NamesType.
namespace value_types {
// `true`: an option without an argument ("--syn").
const ValueType& flag();
// A number 0–max, as a JSON number or a decimal string.
// `max` one of 1, 3, 63 (a bit, two bits, a DSCP), 255, 65535, 4294967295.
const ValueType& number(std::uint64_t max);
// A port 0–65535 or a range "lo:hi" (":hi", "lo:" as iptables).
const ValueType& port_range();
// A port, a range, or a list of up to 15 (ranges count two): -m multiport.
const ValueType& port_list();
// A 16-bit range ("64:1500"), as --length takes it.
const ValueType& u16_range();
// An IPv4 or IPv6 address with an optional prefix length or dotted mask.
const ValueType& prefix();
// An IPv4 or IPv6 address.
const ValueType& address();
// "first-last": two addresses of one family.
const ValueType& address_range();
// "0x1" or "0x1/0xff": 32 bits and an optional mask.
const ValueType& value_mask();
// 32 bits without a mask ("0xff").
const ValueType& bits32();
// An interface name, up to 15 characters; a trailing "+" matches a prefix.
const ValueType& interface();
// Any string up to `max_length` characters.
const ValueType& text(std::size_t max_length);
}  // namespace value_types

// One of a fixed set of names ("original", "reply"), parsed to its index.
class ChoiceType final : public ValueType {
 public:
  ChoiceType(std::string_view name, std::span<const std::string_view> choices)
      : name_(name), choices_(choices) {}
  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] std::string syntax() const override;
  [[nodiscard]] Value parse(const Json& v) const override;
  [[nodiscard]] std::string save_text(const Value& v) const override;
  [[nodiscard]] Json schema() const override;
  [[nodiscard]] Json example() const override;
  [[nodiscard]] std::span<const std::string_view> choices() const { return choices_; }

 private:
  std::string_view name_;
  std::span<const std::string_view> choices_;
};

// A set of named bits, written "A,B" or ["A", "B"] with at least one name,
// parsed to their OR; printed in table order, comma-separated.
struct NamedBit {
  std::string_view name;
  std::uint32_t bits;
};
class NamesType final : public ValueType {
 public:
  // `empty_list_is_none`: [] is the empty set (TCP flags), else refused.
  NamesType(std::string_view name, std::span<const NamedBit> names, bool empty_list_is_none = false)
      : name_(name), names_(names), empty_list_is_none_(empty_list_is_none) {}
  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] std::string syntax() const override;
  [[nodiscard]] Value parse(const Json& v) const override;
  [[nodiscard]] std::string save_text(const Value& v) const override;
  [[nodiscard]] Json schema() const override;
  [[nodiscard]] Json example() const override;
  [[nodiscard]] bool takes_list() const override { return true; }
  // "RELATED,ESTABLISHED"; `none` when no bit is set.
  [[nodiscard]] std::string text(std::uint32_t bits, std::string_view none = "") const;

 private:
  std::string_view name_;
  std::span<const NamedBit> names_;
  bool empty_list_is_none_;
};

// An ICMP or ICMPv6 type: a number, "type/code", or one of `names`.
class IcmpTypeType final : public ValueType {
 public:
  // `what` names it in errors; a type of `any_type` is saved as "any".
  IcmpTypeType(std::string_view what, std::span<const IcmpTypeName> names,
               std::optional<std::uint8_t> any_type)
      : what_(what), names_(names), any_type_(any_type) {}
  [[nodiscard]] std::string_view name() const override { return "ICMP type"; }
  [[nodiscard]] Json example() const override;
  [[nodiscard]] std::string syntax() const override { return std::string(what_); }
  [[nodiscard]] Value parse(const Json& v) const override;
  [[nodiscard]] std::string save_text(const Value& v) const override;
  [[nodiscard]] Json schema() const override;

 private:
  std::string_view what_;
  std::span<const IcmpTypeName> names_;
  std::optional<std::uint8_t> any_type_;
};

}  // namespace verdictd
