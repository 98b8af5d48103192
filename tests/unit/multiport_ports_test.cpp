// -m multiport --ports: either port in the list (XT_MULTIPORT_EITHER), its
// negation, beside --dports in one rule, and the text iptables 1.8.9 lists
// and saves for the same rules.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::listed;
using test::saved;

bool hits(const Match& match, std::uint16_t sport, std::uint16_t dport) {
  EvalState state;
  return match.matches(PacketView::parse(test::ipv4(
                           ipproto::kTcp, test::tcp_header({.sport = sport, .dport = dport}))),
                       state);
}

TEST(MultiportPorts, EitherPortInTheList) {
  const auto ports = build(R"({"protocol": "tcp", "ports": [22, "80:90"]})", "ports");
  EXPECT_TRUE(hits(*ports, 22, 40000));
  EXPECT_TRUE(hits(*ports, 40000, 85));
  EXPECT_FALSE(hits(*ports, 40000, 91));
  const auto negated = build(R"({"protocol": "tcp", "!ports": 22})", "!ports");
  EXPECT_FALSE(hits(*negated, 40000, 22));
  EXPECT_FALSE(hits(*negated, 22, 40000));
  EXPECT_TRUE(hits(*negated, 40000, 23));
}

TEST(MultiportPorts, BesideAnotherList) {
  const auto both = build(R"({"protocol": "tcp", "dport": [443], "ports": ["ssh"]})", "ports");
  EXPECT_TRUE(hits(*both, 22, 443));
  EXPECT_FALSE(hits(*both, 22, 80));
  EXPECT_EQ(saved(*both), " -m multiport --dports 443 -m multiport --ports 22");
}

TEST(MultiportPorts, ListAndSaveAsIptables) {
  const auto ports = build(R"({"protocol": "tcp", "ports": [22, "80:90"]})", "ports");
  const auto negated = build(R"({"protocol": "tcp", "!ports": 22})", "!ports");
  EXPECT_EQ(listed(*ports), "multiport ports 22,80:90");
  EXPECT_EQ(listed(*negated), "multiport ports  !22");
  EXPECT_EQ(saved(*ports), " -m multiport --ports 22,80:90");
  EXPECT_EQ(saved(*negated), " -m multiport ! --ports 22");
}

}  // namespace
}  // namespace verdictd
