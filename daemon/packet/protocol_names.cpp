#include "packet/protocol_names.hpp"

#include <algorithm>
#include <array>

#include "packet/packet.hpp"

namespace verdictd {

namespace {

constexpr std::array<ProtocolName, 11> kProtocolNames = {{{"all", 0},
                                                          {"icmp", ipproto::kIcmp},
                                                          {"tcp", ipproto::kTcp},
                                                          {"udp", ipproto::kUdp},
                                                          {"gre", 47},
                                                          {"esp", 50},
                                                          {"ah", 51},
                                                          {"ipv6-icmp", ipproto::kIcmpv6},
                                                          {"icmpv6", ipproto::kIcmpv6},
                                                          {"sctp", ipproto::kSctp},
                                                          {"udplite", ipproto::kUdplite}}};

}  // namespace

std::span<const ProtocolName> protocol_names() { return kProtocolNames; }

std::string protocol_name(std::uint8_t number) {
  const auto* known = std::find_if(kProtocolNames.begin(), kProtocolNames.end(),
                                   [number](const ProtocolName& p) { return p.number == number; });
  return known != kProtocolNames.end() ? std::string(known->name) : std::to_string(number);
}

std::optional<std::uint8_t> protocol_by_name(std::string_view name) {
  const auto* known = std::find_if(kProtocolNames.begin(), kProtocolNames.end(),
                                   [name](const ProtocolName& p) { return p.name == name; });
  if (known == kProtocolNames.end()) return std::nullopt;
  return known->number;
}

}  // namespace verdictd
