// -m dscp, -m tos and -m ecn on IPv4 and IPv6 headers, the class and TOS
// names, each test's negation, and the text iptables 1.8.9 lists and saves
// for the same rules (iptables-legacy and ip6tables-legacy).
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

// The match of the object's last key (the first may be its protocol).
std::unique_ptr<Match> built(const std::string& match_object) {
  const Json object = Json::parse(match_object);
  return build(match_object, std::prev(object.end()).key());
}

bool hits(const Match& match, const test::Bytes& bytes) {
  EvalState state;
  return match.matches(PacketView::parse(bytes), state);
}

test::Bytes v4(std::uint8_t tos, std::uint8_t tcp_flags = 0) {
  return test::ipv4(ipproto::kTcp, test::tcp_header({.sport = 1, .dport = 2, .flags = tcp_flags}),
                    {.tos = tos});
}

test::Bytes v6(std::uint8_t traffic_class, std::uint8_t tcp_flags = 0) {
  return test::ipv6(ipproto::kTcp, test::tcp_header({.sport = 1, .dport = 2, .flags = tcp_flags}),
                    {.traffic_class = traffic_class});
}

TEST(Dscp, TheSixHighBitsOfEitherFamily) {
  const auto af11 = built(R"({"dscp": 10})");
  EXPECT_TRUE(hits(*af11, v4(0x28)));
  EXPECT_TRUE(hits(*af11, v4(0x2b)));  // the ECN bits do not count
  EXPECT_FALSE(hits(*af11, v4(0x2c)));
  EXPECT_TRUE(hits(*af11, v6(0x29)));
  const auto not_ef = built(R"({"!dscp_class": "EF"})");
  EXPECT_FALSE(hits(*not_ef, v4(0xb8)));
  EXPECT_TRUE(hits(*not_ef, v6(0x00)));
}

TEST(Dscp, ListAndSaveAsIptables) {
  EXPECT_EQ(listed(*built(R"({"dscp": 10})")), "DSCP match 0x0a");
  EXPECT_EQ(listed(*built(R"({"!dscp_class": "EF"})")), "DSCP match !0x2e");
  EXPECT_EQ(saved(*built(R"({"dscp": 10})")), " -m dscp --dscp 0x0a");
  EXPECT_EQ(saved(*built(R"({"!dscp_class": "EF"})")), " -m dscp ! --dscp 0x2e");
  EXPECT_EQ(build_error(R"({"dscp": 64})", "dscp"), ": expected a number 0-63, got 64");
  EXPECT_NE(build_error(R"({"dscp": 1, "dscp_class": "EF"})", "dscp").find("one of"),
            std::string::npos);
}

TEST(Tos, ValueUnderMaskAndNames) {
  const auto whole = built(R"({"tos": "0x10"})");
  EXPECT_TRUE(hits(*whole, v4(0x10)));
  EXPECT_FALSE(hits(*whole, v4(0x11)));  // no mask written: all 8 bits
  EXPECT_TRUE(hits(*whole, v6(0x10)));
  const auto masked = built(R"({"tos": "0x04/0x0c"})");
  EXPECT_TRUE(hits(*masked, v4(0xf7)));
  EXPECT_FALSE(hits(*masked, v4(0x08)));
  // A name compares the low 6 bits: the ECN bits... and the top two do not count.
  const auto delay = built(R"({"!tos": "minimize-delay"})");
  EXPECT_FALSE(hits(*delay, v4(0x50)));
  EXPECT_TRUE(hits(*delay, v4(0x18)));
}

TEST(Tos, ListAndSaveAsIptables) {
  EXPECT_EQ(listed(*built(R"({"tos": 16})")), "tos match0x10/0xff");
  EXPECT_EQ(listed(*built(R"({"!tos": "Minimize-Delay"})")), "tos match!0x10/0x3f");
  EXPECT_EQ(saved(*built(R"({"tos": "0x04/0x0c"})")), " -m tos --tos 0x04/0x0c");
  EXPECT_EQ(saved(*built(R"({"tos": "Normal-Service"})")), " -m tos --tos 0x00/0x3f");
  EXPECT_EQ(saved(*built(R"({"!tos": "8"})")), " -m tos ! --tos 0x08/0xff");
  EXPECT_NE(build_error(R"({"tos": "0x100"})", "tos").find("expected a TOS value"),
            std::string::npos);
  EXPECT_NE(build_error(R"({"tos": "Fast"})", "tos").find("expected a TOS value"),
            std::string::npos);
}

TEST(Ecn, CodepointAndTcpBits) {
  const auto ect2 = built(R"({"ecn_ip_ect": 2})");
  EXPECT_TRUE(hits(*ect2, v4(0x02)));
  EXPECT_TRUE(hits(*ect2, v6(0xfe)));
  EXPECT_FALSE(hits(*ect2, v4(0x03)));
  const auto bits =
      built(R"({"protocol": "tcp", "ecn_tcp_cwr": true, "!ecn_tcp_ece": true, "ecn_ip_ect": 2})");
  EXPECT_TRUE(hits(*bits, v4(0x02, tcpflag::kCwr)));
  EXPECT_FALSE(hits(*bits, v4(0x02, tcpflag::kCwr | tcpflag::kEce)));
  EXPECT_FALSE(hits(*bits, v4(0x02, 0)));
  EXPECT_FALSE(hits(*bits, v4(0x01, tcpflag::kCwr)));
  EXPECT_TRUE(hits(*bits, v6(0x02, tcpflag::kCwr | tcpflag::kSyn)));
  EXPECT_TRUE(hits(*built(R"({"!ecn_ip_ect": 3})"), v4(0x00)));
}

TEST(Ecn, TcpBitsNeedTcp) {
  EXPECT_EQ(build_error(R"({"ecn_tcp_ece": true})", "ecn_tcp_ece"),
            R"(: "ecn_tcp_ece" and "ecn_tcp_cwr" need "protocol": "tcp")");
  EXPECT_EQ(build_error(R"({"protocol": "udp", "ecn_tcp_cwr": true})", "ecn_tcp_cwr"),
            R"(: "ecn_tcp_ece" and "ecn_tcp_cwr" need "protocol": "tcp")");
}

TEST(Ecn, ListAndSaveAsIptables) {
  const auto all =
      built(R"({"protocol": "tcp", "ecn_tcp_cwr": true, "!ecn_tcp_ece": true, "ecn_ip_ect": 2})");
  EXPECT_EQ(listed(*all), "ECN match !ECE CWR ECT=2");
  EXPECT_EQ(saved(*all), " -m ecn ! --ecn-tcp-ece --ecn-tcp-cwr --ecn-ip-ect 2");
  EXPECT_EQ(listed(*built(R"({"!ecn_ip_ect": 3})")), "ECN match !ECT=3");
  EXPECT_EQ(saved(*built(R"({"!ecn_ip_ect": 3})")), " -m ecn ! --ecn-ip-ect 3");
}

}  // namespace
}  // namespace verdictd
