// The IP protocols by the names iptables gives them (-p, iptables-save),
// for every place that prints or reads one.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace verdictd {

struct ProtocolName {
  std::string_view name;
  std::uint8_t number;
};

// Every name, the one iptables-save prints for a number first; "icmpv6" is
// an alias of "ipv6-icmp", and "all" is 0, which -p takes for any protocol.
std::span<const ProtocolName> protocol_names();

// "tcp", "ipv6-icmp", or the number for one without a name.
std::string protocol_name(std::uint8_t number);

std::optional<std::uint8_t> protocol_by_name(std::string_view name);

}  // namespace verdictd
