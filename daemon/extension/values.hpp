// Parsers for the values rules are written with. Each throws FieldError with
// a message of the form `expected ..., got <the JSON value>`. Only the JSON
// type is declared here: nlohmann/json.hpp is a tenth of the work of
// compiling and linting a file, so only the files that read or build JSON
// include it.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "packet/address.hpp"
#include "text/hex.hpp"

namespace verdictd {

using Json = nlohmann::ordered_json;

struct PortRange {
  std::uint16_t low = 0;
  std::uint16_t high = 0xffff;
  [[nodiscard]] bool contains(std::uint16_t p) const { return p >= low && p <= high; }
  [[nodiscard]] bool is_single() const { return low == high; }
  [[nodiscard]] std::string to_string(char separator = ':') const;  // "22" or "1024:65535"
};

// `expected WHAT, got VALUE`: VALUE is the JSON text of the value.
[[noreturn]] void throw_expected(std::string_view what, const Json& got);

// 22, "22", "ssh"-free: only numbers; "lo:hi" ranges; ":hi" and "lo:" as iptables.
PortRange parse_port_range(const Json& v);
// The same syntax for other 16-bit ranges (length); `what` names the value
// in the error message.
PortRange parse_u16_range(const Json& v, std::string_view what);
// A single port or range, or a list of up to 15 (ranges count as two, as multiport).
std::vector<PortRange> parse_port_list(const Json& v);
std::uint32_t parse_uint(const Json& v, std::uint64_t max, std::string_view what);
// "0x1", "0x1/0xff", 1 → value and mask (mask defaults to all ones).
std::pair<std::uint32_t, std::uint32_t> parse_value_mask(const Json& v, std::string_view what);
IpPrefix parse_prefix(const Json& v);
IpAddress parse_address(const Json& v);
// An interface name up to 15 characters; a trailing "+" is a prefix wildcard.
std::string parse_interface(const Json& v);
const std::string& expect_string(const Json& v, std::string_view what);
// An object whose keys are all in `allowed`; throws naming the first unknown key.
void expect_object_keys(const Json& v, std::initializer_list<std::string_view> allowed,
                        std::string_view what);
// A mark match's operand as iptables prints it: "0x1/0xff", or "0x1" for a
// mask of all ones.
std::string mark_match_text(std::uint32_t value, std::uint32_t mask);
// 32 bits without a mask ("0xff"), as --and-mark, --or-mark and --nfmask take them.
std::uint32_t parse_mark_bits(const Json& v);
// What clearing `mask` and then XORing `value` amounts to, as iptables -L names
// it for MARK and CONNMARK: "set 0x1", "and 0xff", "or 0x1", "xor 0x1", "xset 0x1/0xff".
std::string mark_operation_text(std::uint32_t value, std::uint32_t mask);
// A string as iptables-save writes it (xtables_save_string): bare when only
// letters, digits, '_' and '-', else in double quotes with '"', '\\' and '\''
// escaped.
std::string save_string(const std::string& text);

// An ICMP or ICMPv6 type and the codes it covers.
struct IcmpType {
  std::uint8_t type = 0;
  std::uint8_t code_min = 0;
  std::uint8_t code_max = 0xff;
  // Written alone or as "type/code", a type covers all codes or one.
  [[nodiscard]] bool has_code() const { return code_min == code_max; }
  [[nodiscard]] std::string to_string() const;  // "8" or "3/3", as --icmp-type takes it
};
struct IcmpTypeName {
  std::string_view name;
  IcmpType type;
};
// A type number, "type/code", or one of `names`, as --icmp-type takes them.
IcmpType parse_icmp_type(const Json& v, std::span<const IcmpTypeName> names, std::string_view what);

}  // namespace verdictd
