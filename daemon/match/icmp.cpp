// --icmp-type: the ICMP type, and optionally code, of an IPv4 packet.
#include <array>

#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/icmp_type_match.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kAnyType = 255;  // the kernel matches every ICMP packet
constexpr std::uint8_t kAnyCode = 0xff;

// The names iptables --icmp-type accepts.
constexpr std::array<IcmpTypeName, 40> kNames = {{
    {"any", {kAnyType, 0, kAnyCode}},
    {"echo-reply", {0, 0, kAnyCode}},
    {"pong", {0, 0, kAnyCode}},
    {"destination-unreachable", {3, 0, kAnyCode}},
    {"network-unreachable", {3, 0, 0}},
    {"host-unreachable", {3, 1, 1}},
    {"protocol-unreachable", {3, 2, 2}},
    {"port-unreachable", {3, 3, 3}},
    {"fragmentation-needed", {3, 4, 4}},
    {"source-route-failed", {3, 5, 5}},
    {"network-unknown", {3, 6, 6}},
    {"host-unknown", {3, 7, 7}},
    {"network-prohibited", {3, 9, 9}},
    {"host-prohibited", {3, 10, 10}},
    {"TOS-network-unreachable", {3, 11, 11}},
    {"TOS-host-unreachable", {3, 12, 12}},
    {"communication-prohibited", {3, 13, 13}},
    {"host-precedence-violation", {3, 14, 14}},
    {"precedence-cutoff", {3, 15, 15}},
    {"source-quench", {4, 0, kAnyCode}},
    {"redirect", {5, 0, kAnyCode}},
    {"network-redirect", {5, 0, 0}},
    {"host-redirect", {5, 1, 1}},
    {"TOS-network-redirect", {5, 2, 2}},
    {"TOS-host-redirect", {5, 3, 3}},
    {"echo-request", {8, 0, kAnyCode}},
    {"ping", {8, 0, kAnyCode}},
    {"router-advertisement", {9, 0, kAnyCode}},
    {"router-solicitation", {10, 0, kAnyCode}},
    {"time-exceeded", {11, 0, kAnyCode}},
    {"ttl-exceeded", {11, 0, kAnyCode}},
    {"ttl-zero-during-transit", {11, 0, 0}},
    {"ttl-zero-during-reassembly", {11, 1, 1}},
    {"parameter-problem", {12, 0, kAnyCode}},
    {"ip-header-bad", {12, 0, 0}},
    {"required-option-missing", {12, 1, 1}},
    {"timestamp-request", {13, 0, kAnyCode}},
    {"timestamp-reply", {14, 0, kAnyCode}},
    {"address-mask-request", {17, 0, kAnyCode}},
    {"address-mask-reply", {18, 0, kAnyCode}},
}};

const IcmpMatchKind kKind{.family = Family::kIPv4,
                          .any_type = kAnyType,
                          .listed = "icmptype",
                          .listed_negated = "icmp !type"};

const IcmpTypeType kType(
    "an ICMP type: a number 0-255, \"type/code\" or a name such as \"echo-request\"", kNames,
    kAnyType);
constexpr std::array<std::uint8_t, 1> kProtocols = {ipproto::kIcmp};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return make_icmp_match(kKind, options, "icmp_type");
}

const std::array<OptionSpec, 1> kOptions = {{{.key = "icmp_type",
                                              .flag = "--icmp-type",
                                              .type = &kType,
                                              .negatable = true,
                                              .doc = "the ICMP type, and code if given"}}};

const MatchRegistrar kRegistrar(
    {.name = "icmp",
     .summary = "ICMP type and code (implied by \"protocol\": \"icmp\")",
     .options = kOptions,
     .protocols = kProtocols,
     .implied = true,
     .build = build});

}  // namespace

}  // namespace verdictd
