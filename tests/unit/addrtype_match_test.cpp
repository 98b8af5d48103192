// -m addrtype and the route lookups under it (packet/routes.hpp): IPv4 types
// from the local table (broadcast and multicast by the address alone, error
// routes counting as unicast), IPv6's required bits and route-found types,
// the interface limits, negation, and the text iptables 1.8.9 prints.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "host_routes.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::kEth0;
using test::kEth1;
using test::listed;
using test::saved;

const RoutingTable& host() {
  static const RoutingTable* table = [] {
    auto* t = new RoutingTable;  // NOLINT(cppcoreguidelines-owning-memory): lives for the tests
    test::add_host_routes(*t);
    return t;
  }();
  return *table;
}

std::unique_ptr<Match> addrtype(const std::string& options) {
  const Json parsed = Json::parse(options);
  return build(options, parsed.begin().key());
}

// Whether the match takes a UDP datagram from `source` to `destination`,
// come in on `in` and going out of `out`.
bool takes(const Match& match, const char* source, const char* destination,
           std::uint32_t in = kEth0, std::uint32_t out = 0, const RouteLookup* routes = &host()) {
  const bool v6 = std::string_view(destination).find(':') != std::string_view::npos;
  const std::vector<std::uint8_t> bytes = v6 ? test::ipv6_udp_packet(source, destination, 1, 7000)
                                             : test::ipv4_packet(17, source, destination, 1, 7000);
  EvalState state;
  state.hook = out == 0 ? Hook::kInput : Hook::kForward;
  state.in_ifindex = in;
  state.out_ifindex = out;
  state.routes = routes;
  return match.matches(PacketView::parse(bytes), state);
}

bool destination_is(const char* type, const char* destination, const char* source = "192.0.2.9") {
  const bool v6 = std::string_view(destination).find(':') != std::string_view::npos;
  return takes(*addrtype(std::string(R"({"dst_type": ")") + type + "\"}"),
               v6 && std::string_view(source) == "192.0.2.9" ? "2001:db8:1::9" : source,
               destination);
}

TEST(Addrtype, Ipv4TypesComeFromTheLocalTable) {
  EXPECT_TRUE(destination_is("LOCAL", "192.0.2.1"));
  EXPECT_TRUE(destination_is("LOCAL", "198.51.100.1"));
  EXPECT_TRUE(destination_is("LOCAL", "127.0.0.5"));  // 127/8 is a local route
  EXPECT_FALSE(destination_is("LOCAL", "192.0.2.5"));
  EXPECT_TRUE(destination_is("UNICAST", "192.0.2.5"));
  EXPECT_TRUE(destination_is("UNICAST", "8.8.8.8"));
  EXPECT_TRUE(destination_is("BROADCAST", "192.0.2.255"));
  EXPECT_FALSE(destination_is("UNICAST", "192.0.2.255"));
  EXPECT_TRUE(destination_is("MULTICAST", "224.0.0.1"));
  EXPECT_TRUE(destination_is("MULTICAST", "239.1.2.3"));
}

TEST(Addrtype, Ipv4AddressesTheKernelTypesWithoutARoute) {
  // 0.0.0.0/8 and the limited broadcast are broadcast before any lookup.
  EXPECT_TRUE(destination_is("BROADCAST", "0.0.0.0"));
  EXPECT_TRUE(destination_is("BROADCAST", "0.1.2.3"));
  EXPECT_TRUE(destination_is("BROADCAST", "255.255.255.255"));
  // A lookup ending at an error route fails, and a failed lookup is unicast.
  EXPECT_TRUE(destination_is("UNICAST", "203.0.113.7"));
  EXPECT_FALSE(destination_is("UNREACHABLE", "203.0.113.7"));
  EXPECT_FALSE(destination_is("BLACKHOLE", "10.99.1.1"));
  // No routes known: unicast.
  EXPECT_TRUE(
      takes(*addrtype(R"({"dst_type": "UNICAST"})"), "192.0.2.9", "192.0.2.1", kEth0, 0, nullptr));
}

TEST(Addrtype, ListsNegationAndBothSides) {
  const auto spoofed = addrtype(R"({"src_type": "LOCAL"})");
  EXPECT_TRUE(takes(*spoofed, "192.0.2.1", "192.0.2.1"));
  EXPECT_FALSE(takes(*spoofed, "192.0.2.9", "192.0.2.1"));
  const auto not_unicast = addrtype(R"({"!src_type": "UNICAST,MULTICAST"})");
  EXPECT_TRUE(takes(*not_unicast, "192.0.2.1", "192.0.2.5"));
  EXPECT_FALSE(takes(*not_unicast, "192.0.2.9", "192.0.2.5"));
  EXPECT_FALSE(takes(*not_unicast, "224.0.0.9", "192.0.2.5"));
  const auto both = addrtype(R"({"src_type": ["UNICAST"], "!dst_type": "LOCAL"})");
  EXPECT_TRUE(takes(*both, "192.0.2.9", "192.0.2.5"));
  EXPECT_FALSE(takes(*both, "192.0.2.9", "192.0.2.1"));
  EXPECT_FALSE(takes(*both, "192.0.2.1", "192.0.2.5"));
}

TEST(Addrtype, AnInterfaceLimitCountsOnlyItsRoutes) {
  const auto local_in = addrtype(R"({"dst_type": "LOCAL", "limit_iface_in": true})");
  EXPECT_TRUE(takes(*local_in, "192.0.2.9", "192.0.2.1", kEth0));
  EXPECT_FALSE(takes(*local_in, "192.0.2.9", "192.0.2.1", kEth1));  // unicast through eth1
  const auto unicast_out = addrtype(R"({"dst_type": "UNICAST", "limit_iface_out": true})");
  EXPECT_TRUE(takes(*unicast_out, "192.0.2.9", "198.51.100.1", kEth0, kEth0));
  EXPECT_FALSE(takes(*unicast_out, "192.0.2.9", "198.51.100.1", kEth0, kEth1));
  // IPv6: LOCAL is an address of that interface.
  const auto local6 = addrtype(R"({"dst_type": "LOCAL", "limit_iface_in": true})");
  EXPECT_TRUE(takes(*local6, "2001:db8:1::9", "2001:db8:1::1", kEth0));
  EXPECT_FALSE(takes(*local6, "2001:db8:1::9", "2001:db8:1::1", kEth1));
  // ... and a route through it must exist, else the address is unreachable.
  const auto unreachable6 = addrtype(R"({"dst_type": "UNREACHABLE", "limit_iface_in": true})");
  EXPECT_TRUE(takes(*unreachable6, "2001:db8:1::9", "2001:db8:1::1", kEth1));
  EXPECT_FALSE(takes(*unreachable6, "2001:db8:1::9", "2001:db8:1::1", kEth0));
}

TEST(Addrtype, Ipv6TypesFromTheBitsAndTheRoute) {
  EXPECT_TRUE(destination_is("LOCAL", "2001:db8:1::1"));
  EXPECT_TRUE(destination_is("LOCAL", "::1"));
  EXPECT_FALSE(destination_is("LOCAL", "2001:db8:1::5"));
  EXPECT_TRUE(destination_is("UNICAST", "2001:db8:1::5"));
  EXPECT_TRUE(destination_is("UNICAST", "fe80::5"));
  EXPECT_FALSE(destination_is("UNICAST", "::ffff:192.0.2.1"));  // v4-mapped: neither
  EXPECT_FALSE(destination_is("MULTICAST", "::ffff:192.0.2.1"));
  EXPECT_TRUE(destination_is("MULTICAST", "ff02::1"));
  EXPECT_TRUE(destination_is("UNSPEC", "::"));
  EXPECT_FALSE(destination_is("UNSPEC", "::2"));
  // Every bit type named is required: unicast and local together.
  EXPECT_TRUE(destination_is("UNICAST,LOCAL", "2001:db8:1::1"));
  EXPECT_FALSE(destination_is("UNICAST,LOCAL", "2001:db8:1::5"));
  EXPECT_FALSE(destination_is("UNICAST,MULTICAST", "ff02::1"));
  // Anycast: an anycast route, or the subnet-router address of an on-link prefix.
  EXPECT_TRUE(destination_is("ANYCAST", "2001:db8:1::"));
  EXPECT_TRUE(destination_is("ANYCAST", "2001:db8:2::"));
  EXPECT_FALSE(destination_is("ANYCAST", "2001:db8:2::5"));
  EXPECT_FALSE(destination_is("ANYCAST", "2001:db8:3::"));  // through a gateway
  // A lookup ending at an error route, or finding none, is unreachable alone.
  EXPECT_TRUE(destination_is("UNREACHABLE", "2001:db8:dead::1"));
  EXPECT_FALSE(destination_is("UNREACHABLE", "2001:db8:1::5"));
  EXPECT_TRUE(takes(*addrtype(R"({"dst_type": "UNREACHABLE"})"), "2001:db8:1::9", "2001:db8:1::1",
                    kEth0, 0, nullptr));
}

TEST(Addrtype, Ipv6OnlyTypesMakeTheRuleIpv4) {
  EXPECT_EQ(addrtype(R"({"dst_type": "BROADCAST"})")->family(), Family::kIPv4);
  EXPECT_EQ(addrtype(R"({"src_type": "BLACKHOLE"})")->family(), Family::kIPv4);
  EXPECT_EQ(addrtype(R"({"src_type": "PROHIBIT"})")->family(), Family::kIPv4);
  EXPECT_EQ(addrtype(R"({"src_type": "XRESOLVE"})")->family(), Family::kIPv4);
  EXPECT_EQ(
      addrtype(R"({"src_type": "UNSPEC,UNICAST,LOCAL,ANYCAST,MULTICAST,UNREACHABLE"})")->family(),
      std::nullopt);
}

TEST(Addrtype, InterfaceLimitsNarrowTheHooks) {
  const HookMask in = addrtype(R"({"dst_type": "LOCAL", "limit_iface_in": true})")->allowed_hooks();
  EXPECT_EQ(in, hook_bit(Hook::kPrerouting) | hook_bit(Hook::kInput) | hook_bit(Hook::kForward));
  const HookMask out =
      addrtype(R"({"dst_type": "LOCAL", "limit_iface_out": true})")->allowed_hooks();
  EXPECT_EQ(out, hook_bit(Hook::kForward) | hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting));
  EXPECT_EQ(addrtype(R"({"dst_type": "LOCAL"})")->allowed_hooks(), kEveryHook);
}

TEST(Addrtype, ErrorsOfTheOptions) {
  EXPECT_NE(build_error(R"({"dst_type": "LOCAL", "limit_iface_in": true, "limit_iface_out": true})",
                        "dst_type"),
            "built");
  EXPECT_NE(build_error(R"({"dst_type": "local"})", "dst_type"), "built");
  EXPECT_NE(build_error(R"({"dst_type": []})", "dst_type"), "built");
}

// As iptables-legacy 1.8.9 lists and saves the same rules.
TEST(Addrtype, ListAndSaveTextAsIptables) {
  const auto spoof = addrtype(R"({"src_type": "LOCAL"})");
  EXPECT_EQ(listed(*spoof), "ADDRTYPE match src-type LOCAL");
  EXPECT_EQ(saved(*spoof), " -m addrtype --src-type LOCAL");
  const auto both = addrtype(
      R"({"!src_type": "MULTICAST,UNICAST", "dst_type": "BROADCAST", "limit_iface_in": true})");
  EXPECT_EQ(listed(*both),
            "ADDRTYPE match src-type !UNICAST,MULTICAST dst-type BROADCAST limit-in");
  EXPECT_EQ(saved(*both),
            " -m addrtype ! --src-type UNICAST,MULTICAST --dst-type BROADCAST --limit-iface-in");
  const auto out = addrtype(R"({"dst_type": "LOCAL", "limit_iface_out": true})");
  EXPECT_EQ(listed(*out), "ADDRTYPE match dst-type LOCAL limit-out");
  EXPECT_EQ(saved(*out), " -m addrtype --dst-type LOCAL --limit-iface-out");
  const auto all = addrtype(
      R"({"!dst_type": "BLACKHOLE,UNSPEC,ANYCAST,PROHIBIT,THROW,NAT,XRESOLVE,UNREACHABLE"})");
  EXPECT_EQ(listed(*all),
            "ADDRTYPE match dst-type !UNSPEC,ANYCAST,BLACKHOLE,UNREACHABLE,PROHIBIT,THROW,NAT,"
            "XRESOLVE");
  EXPECT_EQ(saved(*all),
            " -m addrtype ! --dst-type UNSPEC,ANYCAST,BLACKHOLE,UNREACHABLE,PROHIBIT,THROW,NAT,"
            "XRESOLVE");
}

TEST(RoutingTable, LongestPrefixTablesAndChanges) {
  RoutingTable table;
  test::add_host_routes(table);
  const auto found = [&](const char* address, std::uint32_t oif = 0, bool strict = false) {
    return table.lookup({.destination = *IpAddress::parse(address), .oif = oif, .strict = strict});
  };
  EXPECT_EQ(found("192.0.2.1")->type, route_type::kLocal);  // local before main
  EXPECT_EQ(found("192.0.2.7")->destination.length, 24);
  EXPECT_EQ(found("9.9.9.9")->destination.length, 0);
  EXPECT_FALSE(found("203.0.113.1"));  // unreachable
  EXPECT_FALSE(found("10.99.0.1"));    // blackhole
  // The IPv4 default table is asked when main fails.
  table.add(test::route("203.0.113.0/24", route_type::kUnicast, 253, {test::kEth1}));
  EXPECT_EQ(found("203.0.113.1")->devices, std::vector<std::uint32_t>{test::kEth1});
  // A route of the same key replaces the one there; a longer prefix wins.
  table.add(test::route("192.0.2.128/25", route_type::kUnicast, 254, {test::kEth1}));
  table.add(test::route("192.0.2.128/25", route_type::kUnicast, 254, {test::kEth1}));
  EXPECT_EQ(table.size(), 26U);  // the same key replaced
  EXPECT_EQ(found("192.0.2.200")->destination.length, 25);
  table.remove(test::route("192.0.2.128/25", route_type::kUnicast, 254, {}));
  EXPECT_EQ(found("192.0.2.200")->destination.length, 24);
  // IPv6: one route per device at a metric; the device asked, else the first.
  EXPECT_EQ(found("fe80::9", test::kEth1)->devices, std::vector<std::uint32_t>{test::kEth1});
  EXPECT_EQ(found("fe80::9")->devices, std::vector<std::uint32_t>{test::kEth0});
  EXPECT_EQ(found("fe80::9", 7)->devices, std::vector<std::uint32_t>{test::kEth0});
  // Strict: a shorter prefix through that device, else none.
  EXPECT_EQ(found("2001:db8:2::9", test::kEth0, true)->destination.length, 0);
  EXPECT_FALSE(found("2001:db8:2::9", 7, true));
  EXPECT_FALSE(found("2001:db8:dead::9"));
  // A throw route in the local table hands over to main.
  table.add(test::route("2001:db8:2::/64", route_type::kThrow, 255, {test::kLo}));
  EXPECT_EQ(found("2001:db8:2::9")->devices, std::vector<std::uint32_t>{test::kEth1});
  EXPECT_TRUE(table.is_address_of(test::kEth0, *IpAddress::parse("2001:db8:1::1")));
  EXPECT_FALSE(table.is_address_of(test::kEth1, *IpAddress::parse("2001:db8:1::1")));
}

}  // namespace
}  // namespace verdictd
