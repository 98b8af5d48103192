// What -m icmp and -m icmp6 share: one type, and a range of its codes, tested
// after the kernel's checks of the header, as ip_tables.c's icmp_match and
// ip6_tables.c's icmp6_match do (a non-first fragment never matches; a
// packet whose ICMP header is cut short is dropped, "hotdrop").
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

struct IcmpMatchKind {
  Family family;
  // The type that matches every packet of the protocol (IPv4's "any"), if any.
  std::optional<std::uint8_t> any_type;
  // What iptables -L -n prints before the type: "icmptype" and, negated,
  // "icmp !type".
  std::string_view listed;
  std::string_view listed_negated;
};

// The match of options["key"]: its type, and whether it was negated.
std::unique_ptr<Match> make_icmp_match(const IcmpMatchKind& kind, const OptionValues& options,
                                       std::string_view key);

}  // namespace verdictd
