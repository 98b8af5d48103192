// -m ipv6header: the set of extension headers (exact, or --soft), through
// later fragments and to ESP or no-next-header, the names and numbers
// ip6tables takes, and the text ip6tables 1.8.9 lists and saves.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::Bytes;
using test::listed;
using test::saved;

std::unique_ptr<Match> headers(const std::string& match_object) {
  const Json object = Json::parse(match_object);
  return build(match_object, object.begin().key());
}

bool hits(const Match& match, const Bytes& bytes) {
  EvalState state;
  return match.matches(PacketView::parse(bytes), state);
}

const Bytes kTcp = test::tcp_header({.sport = 1, .dport = 2});

// Hop-by-hop, then a fragment header, then TCP.
Bytes hop_frag_tcp(std::uint16_t offset = 0) {
  return test::ipv6(
      0, test::concat({test::options_header(44), test::fragment_header(6, offset, false), kTcp}));
}

TEST(Ipv6Header, ExactSet) {
  const auto hop_frag = headers(R"({"header": "hop-by-hop,ipv6-frag,protocol"})");
  EXPECT_TRUE(hits(*hop_frag, hop_frag_tcp()));
  EXPECT_TRUE(hits(*hop_frag, hop_frag_tcp(8)));  // later fragments are walked too
  EXPECT_FALSE(hits(*headers(R"({"header": "hop,frag"})"), hop_frag_tcp()));  // TCP counts
  EXPECT_FALSE(hits(*hop_frag, test::ipv6(6, kTcp)));
  EXPECT_TRUE(hits(*headers(R"({"header": ["protocol"]})"), test::ipv6(6, kTcp)));
  const auto negated = headers(R"({"!header": "0,44,255"})");
  EXPECT_FALSE(hits(*negated, hop_frag_tcp()));
  EXPECT_TRUE(hits(*negated, test::ipv6(6, kTcp)));
}

TEST(Ipv6Header, EspAndNoNextEndTheChain) {
  EXPECT_TRUE(hits(*headers(R"({"header": "dst,esp"})"),
                   test::ipv6(60, test::concat({test::options_header(50), Bytes(16, 0)}))));
  EXPECT_TRUE(
      hits(*headers(R"({"header": "ipv6-route,none"})"), test::ipv6(43, test::options_header(59))));
  // A header announced but cut short: no match, negated or not.
  Bytes cut = test::ipv6(0, Bytes{});
  EXPECT_FALSE(hits(*headers(R"({"!header": "esp"})"), cut));
}

TEST(Ipv6Header, Soft) {
  const auto has_frag = headers(R"({"header": "frag", "soft": true})");
  EXPECT_TRUE(hits(*has_frag, hop_frag_tcp()));
  EXPECT_FALSE(hits(*has_frag, test::ipv6(6, kTcp)));
  const auto no_route_no_esp = headers(R"({"!header": "ipv6-route,esp", "soft": true})");
  EXPECT_TRUE(hits(*no_route_no_esp, hop_frag_tcp()));
  EXPECT_FALSE(
      hits(*no_route_no_esp, test::ipv6(43, test::concat({test::options_header(6), kTcp}))));
}

TEST(Ipv6Header, ErrorsAndFamily) {
  EXPECT_NE(build_error(R"({"header": "tcp"})", "header").find("expected "), std::string::npos);
  EXPECT_NE(build_error(R"({"header": "6"})", "header").find("expected "), std::string::npos);
  EXPECT_EQ(headers(R"({"header": "esp"})")->family(), Family::kIPv6);
}

TEST(Ipv6Header, ListAndSaveAsIp6tables) {
  const auto hop_frag = headers(R"({"header": "hop,frag"})");
  EXPECT_EQ(listed(*hop_frag), "ipv6header flags:0x90");
  EXPECT_EQ(saved(*hop_frag), " -m ipv6header --header hop-by-hop,ipv6-frag");
  const auto soft = headers(R"({"!header": "ipv6-route,esp", "soft": true})");
  EXPECT_EQ(listed(*soft), "ipv6header flags:!0x24 soft");
  EXPECT_EQ(saved(*soft), " -m ipv6header ! --header ipv6-route,esp --soft");
  EXPECT_EQ(saved(*headers(R"({"header": "0,44,59,60,51,50,43,255"})")),
            " -m ipv6header --header "
            "hop-by-hop,ipv6-opts,ipv6-route,ipv6-frag,ah,esp,ipv6-nonxt,protocol");
  EXPECT_EQ(listed(*headers(R"({"header": "0,44,59,60,51,50,43,255"})")), "ipv6header flags:0xFF");
}

}  // namespace
}  // namespace verdictd
