// --icmpv6-type: the ICMPv6 type, and optionally code, of an IPv6 packet.
#include <array>

#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/icmp_type_match.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kAnyCode = 0xff;

// The names ip6tables --icmpv6-type accepts.
constexpr std::array<IcmpTypeName, 28> kNames = {{
    {"destination-unreachable", {1, 0, kAnyCode}},
    {"no-route", {1, 0, 0}},
    {"communication-prohibited", {1, 1, 1}},
    {"beyond-scope", {1, 2, 2}},
    {"address-unreachable", {1, 3, 3}},
    {"port-unreachable", {1, 4, 4}},
    {"failed-policy", {1, 5, 5}},
    {"reject-route", {1, 6, 6}},
    {"packet-too-big", {2, 0, kAnyCode}},
    {"time-exceeded", {3, 0, kAnyCode}},
    {"ttl-exceeded", {3, 0, kAnyCode}},
    {"ttl-zero-during-transit", {3, 0, 0}},
    {"ttl-zero-during-reassembly", {3, 1, 1}},
    {"parameter-problem", {4, 0, kAnyCode}},
    {"bad-header", {4, 0, 0}},
    {"unknown-header-type", {4, 1, 1}},
    {"unknown-option", {4, 2, 2}},
    {"echo-request", {128, 0, kAnyCode}},
    {"ping", {128, 0, kAnyCode}},
    {"echo-reply", {129, 0, kAnyCode}},
    {"pong", {129, 0, kAnyCode}},
    {"router-solicitation", {133, 0, kAnyCode}},
    {"router-advertisement", {134, 0, kAnyCode}},
    {"neighbour-solicitation", {135, 0, kAnyCode}},
    {"neighbor-solicitation", {135, 0, kAnyCode}},
    {"neighbour-advertisement", {136, 0, kAnyCode}},
    {"neighbor-advertisement", {136, 0, kAnyCode}},
    {"redirect", {137, 0, kAnyCode}},
}};

const IcmpMatchKind kKind{.family = Family::kIPv6,
                          .any_type = std::nullopt,
                          .listed = "ipv6-icmptype",
                          .listed_negated = "ipv6-icmp !type"};

const IcmpTypeType kType(
    "an ICMPv6 type: a number 0-255, \"type/code\" or a name such as \"echo-request\"", kNames,
    std::nullopt);
constexpr std::array<std::uint8_t, 1> kProtocols = {ipproto::kIcmpv6};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return make_icmp_match(kKind, options, "icmpv6_type");
}

const std::array<OptionSpec, 1> kOptions = {{{.key = "icmpv6_type",
                                              .flag = "--icmpv6-type",
                                              .type = &kType,
                                              .negatable = true,
                                              .doc = "the ICMPv6 type, and code if given"}}};

const MatchRegistrar kRegistrar(
    {.name = "icmp6",
     .summary = "ICMPv6 type and code (implied by \"protocol\": \"ipv6-icmp\")",
     .options = kOptions,
     .protocols = kProtocols,
     .implied = true,
     .build = build});

}  // namespace

}  // namespace verdictd
