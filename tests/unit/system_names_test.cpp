// Protocol and service names from the system's databases (netbase's
// /etc/protocols and /etc/services), read and saved as iptables 1.8.9 does
// for the same rules.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

std::string saved_protocol(const std::string& rule) {
  SaveLine line;
  build(rule, "protocol")->save(line);
  return line.protocol;
}

TEST(SystemNames, ProtocolNamesFromTheDatabase) {
  const auto vrrp = build(R"({"protocol": "vrrp"})", "protocol");
  PacketView packet;
  packet.protocol = 112;
  EvalState state;
  EXPECT_TRUE(vrrp->matches(packet, state));
  ListRow row;
  vrrp->list(row);
  EXPECT_EQ(row.protocol, "112");
  // iptables-save prints the database's name, however the rule wrote it.
  EXPECT_EQ(saved_protocol(R"({"protocol": "vrrp"})"), "-p vrrp");
  EXPECT_EQ(saved_protocol(R"({"protocol": 112})"), "-p vrrp");
  EXPECT_EQ(saved_protocol(R"({"protocol": "112"})"), "-p vrrp");
  EXPECT_EQ(saved_protocol(R"({"protocol": 253})"), "-p 253");
  EXPECT_EQ(saved_protocol(R"({"protocol": "IPv6-ICMP"})"), "-p ipv6-icmp");
  EXPECT_EQ(saved_protocol(R"({"protocol": "icmpv6"})"), "-p ipv6-icmp");
  EXPECT_EQ(saved_protocol(R"({"!protocol": "gre"})"), "! -p gre");
  EXPECT_NE(build_error(R"({"protocol": "no-such-protocol"})", "protocol").find("expected a "),
            std::string::npos);
  EXPECT_NE(build_error(R"({"protocol": "256"})", "protocol").find("expected a "),
            std::string::npos);
}

TEST(SystemNames, ServiceNamesInEveryPortOption) {
  // As xtables_getportbyname: the first protocol that has the name.
  EXPECT_EQ(saved(*build(R"({"protocol": "tcp", "dport": "ssh"})", "dport")), " -m tcp --dport 22");
  EXPECT_EQ(listed(*build(R"({"protocol": "udp", "dport": "domain:http"})", "dport")),
            "udp dpts:53:80");
  EXPECT_EQ(saved(*build(R"({"protocol": "udp", "!sport": "ssh:"})", "sport")),
            " -m udp ! --sport 22:65535");
  // dicom is an alias of acr-nema (104/tcp) before its own line (11112/tcp).
  EXPECT_EQ(saved(*build(R"({"protocol": "tcp", "dport": "dicom"})", "dport")),
            " -m tcp --dport 104");
  EXPECT_EQ(saved(*build(R"({"protocol": "sctp", "sport": "http"})", "sport")),
            " -m sctp --sport 80");
  EXPECT_EQ(saved(*build(R"({"protocol": "tcp", "dport": ["ssh", "http:https"]})", "dport")),
            " -m multiport --dports 22,80:443");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "dport": "SSH"})", "dport"),
            ": expected a port 0-65535 or a service name, got \"SSH\" (no such service in the "
            "system's database)");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "dport": ["ssh", "nothing-here"]})", "dport"),
            "/1: expected a port 0-65535 or a service name, got \"nothing-here\" (no such service "
            "in the system's database)");
}

}  // namespace
}  // namespace verdictd
