// -m rpfilter over the routes of tests/unit/host_routes.hpp: strict and
// loose, local and error routes, the packets that always pass (from lo,
// from 0.0.0.0 to a broadcast, from ::), IPv6's link-local sources bound to
// their interface, --invert, the tables it is allowed in, and the text
// iptables 1.8.9 prints.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "host_routes.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::kEth0;
using test::kEth1;
using test::kLo;
using test::listed;
using test::saved;

constexpr std::uint32_t kEth2 = 4;  // an interface without routes

std::unique_ptr<Match> rpfilter(const std::string& flags = "{}") {
  return build(R"({"rpfilter": )" + flags + "}", "rpfilter", TableId::kRaw);
}

bool passes(const Match& match, const char* source, std::uint32_t in,
            const char* destination = nullptr, bool with_routes = true) {
  static const RoutingTable* const kHost = [] {
    auto* t = new RoutingTable;  // NOLINT(cppcoreguidelines-owning-memory): lives for the tests
    test::add_host_routes(*t);
    return t;
  }();
  const bool v6 = std::string_view(source).find(':') != std::string_view::npos;
  if (destination == nullptr) destination = v6 ? "2001:db8:1::1" : "192.0.2.1";
  const std::vector<std::uint8_t> bytes = v6 ? test::ipv6_udp_packet(source, destination, 1, 7000)
                                             : test::ipv4_packet(17, source, destination, 1, 7000);
  EvalState state;
  state.hook = Hook::kPrerouting;
  state.in_ifindex = in;
  state.routes = with_routes ? kHost : nullptr;
  return match.matches(PacketView::parse(bytes), state);
}

TEST(Rpfilter, StrictNeedsTheRouteBackThroughTheIncomingInterface) {
  const auto strict = rpfilter();
  EXPECT_TRUE(passes(*strict, "192.0.2.9", kEth0));
  EXPECT_FALSE(passes(*strict, "192.0.2.9", kEth1));
  EXPECT_TRUE(passes(*strict, "198.51.100.9", kEth1));
  EXPECT_TRUE(passes(*strict, "8.8.8.8", kEth0));  // the default route
  EXPECT_FALSE(passes(*strict, "8.8.8.8", kEth1));
  const auto loose = rpfilter(R"({"loose": true})");
  EXPECT_TRUE(passes(*loose, "192.0.2.9", kEth1));
  EXPECT_TRUE(passes(*loose, "8.8.8.8", kEth2));
}

TEST(Rpfilter, ErrorRoutesLocalAndBroadcastSourcesFail) {
  const auto loose = rpfilter(R"({"loose": true})");
  EXPECT_FALSE(passes(*loose, "203.0.113.5", kEth0));  // unreachable
  EXPECT_FALSE(passes(*loose, "10.99.0.5", kEth0));    // blackhole
  EXPECT_FALSE(passes(*loose, "192.0.2.255", kEth0));  // a broadcast route
  EXPECT_FALSE(passes(*loose, "192.0.2.1", kEth0));    // our own address
  const auto local = rpfilter(R"({"accept_local": true})");
  EXPECT_TRUE(passes(*local, "192.0.2.1", kEth0));
  EXPECT_FALSE(passes(*local, "192.0.2.1", kEth1));                       // its route is eth0's
  EXPECT_FALSE(passes(*rpfilter(), "192.0.2.9", kEth0, nullptr, false));  // no routes known
}

TEST(Rpfilter, PacketsThatAlwaysPass) {
  const auto strict = rpfilter();
  const auto inverted = rpfilter(R"({"invert": true})");
  EXPECT_TRUE(passes(*strict, "203.0.113.5", kLo));
  EXPECT_FALSE(passes(*inverted, "203.0.113.5", kLo));
  EXPECT_TRUE(passes(*strict, "0.0.0.0", kEth2, "255.255.255.255"));  // DHCP discover
  EXPECT_TRUE(passes(*strict, "0.0.0.0", kEth2, "224.0.0.22"));       // IGMP report
  EXPECT_FALSE(passes(*strict, "0.0.0.0", kEth2, "224.0.1.22"));
  EXPECT_TRUE(passes(*strict, "::", kEth2, "ff02::16"));  // MLD before an address
}

TEST(Rpfilter, InvertMatchesWhatFails) {
  const auto inverted = rpfilter(R"({"invert": true})");
  EXPECT_FALSE(passes(*inverted, "192.0.2.9", kEth0));
  EXPECT_TRUE(passes(*inverted, "192.0.2.9", kEth1));
  EXPECT_TRUE(passes(*inverted, "203.0.113.5", kEth0));
}

TEST(Rpfilter, Ipv6) {
  const auto strict = rpfilter();
  EXPECT_TRUE(passes(*strict, "2001:db8:2::9", kEth1));
  EXPECT_FALSE(passes(*strict, "2001:db8:2::9", kEth0));
  EXPECT_TRUE(passes(*strict, "2001:db8:77::9", kEth0));  // the default route
  EXPECT_TRUE(passes(*rpfilter(R"({"loose": true})"), "2001:db8:2::9", kEth0));
  // A link-local source routes back through its own interface only, even loose.
  EXPECT_TRUE(passes(*strict, "fe80::9", kEth1));
  EXPECT_TRUE(passes(*strict, "fe80::9", kEth0));
  EXPECT_FALSE(passes(*rpfilter(R"({"loose": true})"), "fe80::9", kEth2));
  EXPECT_FALSE(passes(*strict, "2001:db8:1::1", kEth0));  // our own
  EXPECT_TRUE(passes(*rpfilter(R"({"accept_local": true})"), "2001:db8:1::1", kEth0));
  EXPECT_FALSE(passes(*rpfilter(R"({"loose": true})"), "2001:db8:1::", kEth0));  // anycast
  EXPECT_FALSE(passes(*rpfilter(R"({"loose": true})"), "2001:db8:dead::1", kEth0));
}

TEST(Rpfilter, OnlyInRawAndMangleBeforeRouting) {
  EXPECT_NO_THROW(build(R"({"rpfilter": {}})", "rpfilter", TableId::kMangle));
  EXPECT_THROW(build(R"({"rpfilter": {}})", "rpfilter", TableId::kFilter), FieldError);
  EXPECT_EQ(rpfilter()->allowed_hooks(), hook_bit(Hook::kPrerouting));
}

// As iptables-legacy 1.8.9 lists and saves the same rules.
TEST(Rpfilter, ListAndSaveTextAsIptables) {
  EXPECT_EQ(listed(*rpfilter()), "rpfilter");
  EXPECT_EQ(saved(*rpfilter()), " -m rpfilter");
  const auto inverted = rpfilter(R"({"invert": true})");
  EXPECT_EQ(listed(*inverted), "rpfilter invert");
  EXPECT_EQ(saved(*inverted), " -m rpfilter --invert");
  const auto all = rpfilter(R"({"accept_local": true, "validmark": true, "loose": true})");
  EXPECT_EQ(listed(*all), "rpfilter loose validmark accept-local");
  EXPECT_EQ(saved(*all), " -m rpfilter --loose --validmark --accept-local");
}

}  // namespace
}  // namespace verdictd
