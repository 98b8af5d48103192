// Every match: what it matches (plain and negated), what it never matches
// (truncated headers, non-first fragments), its errors, and its listing and
// iptables-save text (the latter checked against iptables 1.8.9 output).
#include "extension/match.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "extension/error.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;

using test::Bytes;
using test::icmp_message;
using test::ipv4;
using test::ipv6;
using test::put16;
using test::sctp_header;
using test::tcp_header;
using test::udp_header;

// ---- Building matches from a rule's "match" object.

ListRow listed(const Match& match) {
  ListRow row;
  match.list(row);
  return row;
}

std::string saved(const Match& match) {
  SaveLine line;
  match.save(line);
  return line.str();
}

// ---- Hand-built packets.

Bytes truncated(Bytes packet, std::size_t keep_after_ip_header) {
  packet.resize(20 + keep_after_ip_header);
  put16(packet, 2, static_cast<std::uint16_t>(packet.size()));
  return packet;
}

bool hits(const Match& match, const Bytes& bytes, EvalState state = {}) {
  return match.matches(PacketView::parse(bytes), state);
}

EvalState arriving_on(std::string_view name) {
  EvalState state;
  state.in_interface = name;
  return state;
}

EvalState leaving_by(std::string_view name) {
  EvalState state;
  state.out_interface = name;
  return state;
}

EvalState marked(std::uint32_t mark) {
  EvalState state;
  state.mark = mark;
  return state;
}

const Bytes kTcp22 =
    ipv4(ipproto::kTcp, tcp_header({.sport = 40000, .dport = 22, .flags = tcpflag::kSyn}));
const Bytes kTcp80 =
    ipv4(ipproto::kTcp, tcp_header({.sport = 40000, .dport = 80, .flags = tcpflag::kAck}));
const Bytes kUdp53 = ipv4(ipproto::kUdp, udp_header(1024, 53));
const Bytes kIcmpEcho = ipv4(ipproto::kIcmp, icmp_message(8, 0));

// ---- protocol

TEST(ProtocolMatch, NamesAndNumbers) {
  auto tcp = build(R"({"protocol": "tcp"})", "protocol");
  EXPECT_TRUE(hits(*tcp, kTcp22));
  EXPECT_FALSE(hits(*tcp, kUdp53));
  auto udp = build(R"({"protocol": 17})", "protocol");
  EXPECT_TRUE(hits(*udp, kUdp53));
  EXPECT_FALSE(hits(*udp, kTcp22));
  auto v6udp = build(R"({"protocol": "udp"})", "protocol");
  EXPECT_TRUE(hits(*v6udp, ipv6(ipproto::kUdp, udp_header(1, 2))));
  // The protocol after the IPv6 extension headers.
  EXPECT_TRUE(hits(*v6udp, ipv6(ipproto::kUdp, udp_header(1, 2), {.fragment_offset = 0})));
}

TEST(ProtocolMatch, NegatedAndAll) {
  auto not_tcp = build(R"({"!protocol": "tcp"})", "!protocol");
  EXPECT_FALSE(hits(*not_tcp, kTcp22));
  EXPECT_TRUE(hits(*not_tcp, kUdp53));
  auto all = build(R"({"protocol": "all"})", "protocol");
  EXPECT_TRUE(hits(*all, kTcp22));
  EXPECT_TRUE(hits(*all, kIcmpEcho));
  EXPECT_TRUE(hits(*build(R"({"protocol": 0})", "protocol"), kUdp53));
}

TEST(ProtocolMatch, Families) {
  EXPECT_EQ(build(R"({"protocol": "icmp"})", "protocol")->family(), Family::kIPv4);
  EXPECT_EQ(build(R"({"protocol": "ipv6-icmp"})", "protocol")->family(), Family::kIPv6);
  EXPECT_EQ(build(R"({"protocol": "icmpv6"})", "protocol")->family(), Family::kIPv6);
  EXPECT_EQ(build(R"({"protocol": 58})", "protocol")->family(), Family::kIPv6);
  EXPECT_EQ(build(R"({"protocol": "tcp"})", "protocol")->family(), std::nullopt);
  // "not ICMP" is a fair question for both families.
  EXPECT_EQ(build(R"({"!protocol": "icmp"})", "!protocol")->family(), std::nullopt);
}

TEST(ProtocolMatch, Errors) {
  const std::string expected =
      ": expected a protocol (tcp, udp, icmp, ipv6-icmp, sctp, udplite, esp, ah, gre, all, or a "
      "name in the system's protocols database) or a number 0-255, got ";
  EXPECT_EQ(build_error(R"({"protocol": "tpc"})", "protocol"), expected + "\"tpc\"");
  EXPECT_EQ(build_error(R"({"protocol": 256})", "protocol"), expected + "256");
  EXPECT_EQ(build_error(R"({"protocol": "256"})", "protocol"), expected + "\"256\"");
  EXPECT_EQ(build_error(R"({"protocol": true})", "protocol"), expected + "true");
  EXPECT_EQ(build_error(R"({"!protocol": "all"})", "!protocol"),
            ": \"!protocol\": \"all\" would never match");
}

TEST(ProtocolMatch, ListAndSave) {
  // iptables 1.8.9 -L -n prints protocol numbers.
  EXPECT_EQ(listed(*build(R"({"protocol": "tcp"})", "protocol")).protocol, "6");
  EXPECT_EQ(listed(*build(R"({"!protocol": "udp"})", "!protocol")).protocol, "!17");
  EXPECT_EQ(listed(*build(R"({"protocol": "all"})", "protocol")).protocol, "0");
  EXPECT_EQ(saved(*build(R"({"protocol": "tcp"})", "protocol")), " -p tcp");
  EXPECT_EQ(saved(*build(R"({"!protocol": "udp"})", "!protocol")), " ! -p udp");
  EXPECT_EQ(saved(*build(R"({"protocol": "icmpv6"})", "protocol")), " -p ipv6-icmp");
  EXPECT_EQ(saved(*build(R"({"protocol": 50})", "protocol")), " -p esp");
  EXPECT_EQ(saved(*build(R"({"protocol": 200})", "protocol")), " -p 200");
  EXPECT_EQ(saved(*build(R"({"protocol": "all"})", "protocol")), "");
}

// ---- source, destination

TEST(AddressMatch, PrefixesBothFamilies) {
  auto net = build(R"({"source": "10.0.0.0/8"})", "source");
  EXPECT_TRUE(hits(*net, kTcp22));
  EXPECT_FALSE(hits(*net, ipv4(ipproto::kTcp, tcp_header({.sport = 1, .dport = 2, .flags = 0}),
                               {.source = "11.0.0.1"})));
  auto host = build(R"({"destination": "10.0.0.2"})", "destination");
  EXPECT_TRUE(hits(*host, kTcp22));
  EXPECT_FALSE(hits(*host, ipv4(ipproto::kTcp, tcp_header({.sport = 1, .dport = 2, .flags = 0}),
                                {.destination = "10.0.0.3"})));
  auto mask = build(R"({"source": "10.0.0.0/255.255.255.0"})", "source");
  EXPECT_TRUE(hits(*mask, kTcp22));
  auto v6 = build(R"({"source": "2001:db8::/32"})", "source");
  EXPECT_TRUE(hits(*v6, ipv6(ipproto::kUdp, udp_header(1, 2))));
  EXPECT_FALSE(hits(*v6, ipv6(ipproto::kUdp, udp_header(1, 2), {.source = "2001:db9::1"})));
  EXPECT_EQ(net->family(), Family::kIPv4);
  EXPECT_EQ(v6->family(), Family::kIPv6);
}

TEST(AddressMatch, Negated) {
  auto not_net = build(R"({"!source": "10.0.0.0/8"})", "!source");
  EXPECT_FALSE(hits(*not_net, kTcp22));
  EXPECT_TRUE(hits(*not_net, ipv4(ipproto::kTcp, tcp_header({.sport = 1, .dport = 2, .flags = 0}),
                                  {.source = "11.0.0.1"})));
  EXPECT_EQ(not_net->family(), Family::kIPv4);
}

TEST(AddressMatch, Errors) {
  EXPECT_EQ(build_error(R"({"source": "10.0.0.256"})", "source"),
            ": expected an IPv4 or IPv6 address or prefix (address/length), got \"10.0.0.256\"");
  EXPECT_EQ(build_error(R"({"destination": "10.0.0.0/33"})", "destination"),
            ": expected an IPv4 or IPv6 address or prefix (address/length), got \"10.0.0.0/33\"");
  EXPECT_EQ(build_error(R"({"source": ["10.0.0.1"]})", "source"),
            ": expected an IPv4 or IPv6 address or prefix (address/length), got [\"10.0.0.1\"]");
}

TEST(AddressMatch, ListAndSave) {
  EXPECT_EQ(listed(*build(R"({"source": "10.0.0.5"})", "source")).source, "10.0.0.5");
  EXPECT_EQ(listed(*build(R"({"source": "10.0.0.5/32"})", "source")).source, "10.0.0.5");
  EXPECT_EQ(
      listed(*build(R"({"!destination": "10.1.2.3/255.255.0.0"})", "!destination")).destination,
      "!10.1.0.0/16");
  EXPECT_EQ(listed(*build(R"({"source": "2001:db8::/32"})", "source")).source, "2001:db8::/32");
  EXPECT_EQ(saved(*build(R"({"source": "10.0.0.5"})", "source")), " -s 10.0.0.5/32");
  EXPECT_EQ(saved(*build(R"({"!destination": "10.0.0.0/8"})", "!destination")), " ! -d 10.0.0.0/8");
  EXPECT_EQ(saved(*build(R"({"source": "2001:db8::1"})", "source")), " -s 2001:db8::1/128");
  EXPECT_EQ(saved(*build(R"({"source": "0.0.0.0/0"})", "source")), "");
}

// ---- in_interface, out_interface

TEST(InterfaceMatch, ExactNamesAndPrefixes) {
  auto eth0 = build(R"({"in_interface": "eth0"})", "in_interface");
  EXPECT_TRUE(hits(*eth0, kTcp22, arriving_on("eth0")));
  EXPECT_FALSE(hits(*eth0, kTcp22, arriving_on("eth00")));
  EXPECT_FALSE(hits(*eth0, kTcp22, arriving_on("eth")));
  EXPECT_FALSE(hits(*eth0, kTcp22, leaving_by("eth0")));
  auto eth_any = build(R"({"in_interface": "eth+"})", "in_interface");
  EXPECT_TRUE(hits(*eth_any, kTcp22, arriving_on("eth0")));
  EXPECT_TRUE(hits(*eth_any, kTcp22, arriving_on("eth")));
  EXPECT_FALSE(hits(*eth_any, kTcp22, arriving_on("veth0")));
  auto any = build(R"({"in_interface": "+"})", "in_interface");
  EXPECT_TRUE(hits(*any, kTcp22, arriving_on("lo")));
  auto out = build(R"({"out_interface": "wg0"})", "out_interface");
  EXPECT_TRUE(hits(*out, kTcp22, leaving_by("wg0")));
  EXPECT_FALSE(hits(*out, kTcp22, arriving_on("wg0")));
}

TEST(InterfaceMatch, Negated) {
  auto not_lo = build(R"({"!out_interface": "lo"})", "!out_interface");
  EXPECT_FALSE(hits(*not_lo, kTcp22, leaving_by("lo")));
  EXPECT_TRUE(hits(*not_lo, kTcp22, leaving_by("eth0")));
  auto not_veth = build(R"({"!in_interface": "veth+"})", "!in_interface");
  EXPECT_FALSE(hits(*not_veth, kTcp22, arriving_on("veth1")));
  EXPECT_TRUE(hits(*not_veth, kTcp22, arriving_on("eth1")));
}

TEST(InterfaceMatch, HooksAsTheKernelAllows) {
  const HookMask in = build(R"({"in_interface": "a"})", "in_interface")->allowed_hooks();
  EXPECT_EQ(in, hook_bit(Hook::kPrerouting) | hook_bit(Hook::kInput) | hook_bit(Hook::kForward));
  const HookMask out = build(R"({"out_interface": "a"})", "out_interface")->allowed_hooks();
  EXPECT_EQ(out, hook_bit(Hook::kForward) | hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting));
}

TEST(InterfaceMatch, ErrorsListAndSave) {
  EXPECT_EQ(build_error(R"({"in_interface": "a-very-long-name"})", "in_interface"),
            ": expected an interface name of 1 to 15 characters, \"+\" at the end for a prefix, "
            "got \"a-very-long-name\"");
  EXPECT_EQ(listed(*build(R"({"in_interface": "eth0"})", "in_interface")).in, "eth0");
  EXPECT_EQ(listed(*build(R"({"!out_interface": "eth+"})", "!out_interface")).out, "!eth+");
  EXPECT_EQ(saved(*build(R"({"in_interface": "eth0"})", "in_interface")), " -i eth0");
  EXPECT_EQ(saved(*build(R"({"!out_interface": "eth+"})", "!out_interface")), " ! -o eth+");
  EXPECT_EQ(saved(*build(R"({"in_interface": "+"})", "in_interface")), "");
}

// ---- sport, dport

TEST(PortMatch, SinglePortsAndRanges) {
  auto ssh = build(R"({"protocol": "tcp", "dport": 22})", "dport");
  EXPECT_TRUE(hits(*ssh, kTcp22));
  EXPECT_FALSE(hits(*ssh, kTcp80));
  auto high = build(R"({"protocol": "udp", "sport": "1024:65535"})", "sport");
  EXPECT_TRUE(hits(*high, kUdp53));
  EXPECT_FALSE(hits(*high, ipv4(ipproto::kUdp, udp_header(1023, 53))));
  auto v6 = build(R"({"protocol": "udp", "dport": "50:60"})", "dport");
  EXPECT_TRUE(hits(*v6, ipv6(ipproto::kUdp, udp_header(1, 53))));
  auto sctp = build(R"({"protocol": "sctp", "dport": 5})", "dport");
  EXPECT_TRUE(hits(*sctp, ipv4(ipproto::kSctp, sctp_header(9, 5))));
  EXPECT_FALSE(hits(*sctp, ipv4(ipproto::kSctp, sctp_header(5, 9))));
}

TEST(PortMatch, Negated) {
  auto not_ssh = build(R"({"protocol": "tcp", "!dport": 22})", "!dport");
  EXPECT_FALSE(hits(*not_ssh, kTcp22));
  EXPECT_TRUE(hits(*not_ssh, kTcp80));
  auto not_web = build(R"({"protocol": "tcp", "!dport": [80, 443]})", "!dport");
  EXPECT_FALSE(hits(*not_web, kTcp80));
  EXPECT_TRUE(hits(*not_web, kTcp22));
}

TEST(PortMatch, ListsAreMultiport) {
  auto web = build(R"({"protocol": "tcp", "dport": [80, 443, "8000:8080"]})", "dport");
  EXPECT_TRUE(hits(*web, kTcp80));
  EXPECT_TRUE(hits(*web, ipv4(ipproto::kTcp, tcp_header({.sport = 1, .dport = 8080, .flags = 0}))));
  EXPECT_FALSE(hits(*web, kTcp22));
  auto udplite = build(R"({"protocol": "udplite", "sport": 7})", "sport");
  EXPECT_TRUE(hits(*udplite, ipv4(ipproto::kUdplite, udp_header(7, 8))));
}

TEST(PortMatch, CutShortHeaderAsksForTheKernelsHotdropFragmentsDoNot) {
  auto dns = build(R"({"protocol": "udp", "dport": 53})", "dport");
  auto dns_list = build(R"({"protocol": "udp", "dport": [53, 54]})", "dport");
  auto sctp = build(R"({"protocol": "sctp", "dport": 2})", "dport");
  const PacketView short_udp = PacketView::parse(truncated(kUdp53, 6));
  EvalState state;
  EXPECT_FALSE(dns->matches(short_udp, state));  // xt_udp needs all 8 bytes
  EXPECT_TRUE(state.hotdrop);
  state = {};
  EXPECT_TRUE(dns_list->matches(short_udp, state));  // multiport reads the ports only
  EXPECT_FALSE(state.hotdrop);
  state = {};
  EXPECT_FALSE(sctp->matches(PacketView::parse(ipv4(ipproto::kSctp, Bytes(11, 0))), state));
  EXPECT_TRUE(state.hotdrop);  // xt_sctp needs its 12-byte common header
  state = {};
  EXPECT_FALSE(dns->matches(
      PacketView::parse(ipv4(ipproto::kUdp, udp_header(1, 53), {.fragment_offset = 1})), state));
  EXPECT_FALSE(state.hotdrop);
}

TEST(PortMatch, NoTransportHeaderNeverMatchesEvenNegated) {
  auto ssh = build(R"({"protocol": "tcp", "dport": 22})", "dport");
  auto not_ssh = build(R"({"protocol": "tcp", "!dport": 22})", "!dport");
  auto not_list = build(R"({"protocol": "tcp", "!dport": [80]})", "!dport");
  auto not_dns = build(R"({"protocol": "udp", "!dport": 53})", "!dport");
  // xt_tcp needs the whole TCP header; multiport only the four bytes of ports.
  const Bytes short_tcp = truncated(kTcp22, 12);
  EXPECT_FALSE(hits(*ssh, short_tcp));
  EXPECT_FALSE(hits(*not_ssh, short_tcp));
  EXPECT_TRUE(hits(*not_list, short_tcp));
  EXPECT_FALSE(hits(*not_list, truncated(kTcp22, 3)));
  EXPECT_FALSE(hits(*not_dns, truncated(kUdp53, 7)));
  // A non-first fragment carries no ports, whatever its bytes look like.
  const Bytes fragment =
      ipv4(ipproto::kTcp, tcp_header({.sport = 40000, .dport = 22, .flags = tcpflag::kSyn}),
           {.fragment_offset = 1});
  EXPECT_FALSE(hits(*ssh, fragment));
  EXPECT_FALSE(hits(*not_ssh, fragment));
  EXPECT_FALSE(hits(*not_list, fragment));
  const Bytes v6_fragment = ipv6(ipproto::kUdp, udp_header(1, 80), {.fragment_offset = 2});
  EXPECT_FALSE(hits(*build(R"({"protocol": "udp", "!dport": 53})", "!dport"), v6_fragment));
  // The first fragment has them.
  EXPECT_TRUE(hits(
      *ssh, ipv4(ipproto::kTcp, tcp_header({.sport = 40000, .dport = 22, .flags = tcpflag::kSyn}),
                 {.more_fragments = true})));
}

TEST(PortMatch, NeedAPortProtocol) {
  const std::string needs =
      R"(: dport needs "protocol": "tcp", "udp", "udplite" or "sctp" in the same rule)";
  EXPECT_EQ(build_error(R"({"dport": 22})", "dport"), needs);
  EXPECT_EQ(build_error(R"({"protocol": "icmp", "dport": 22})", "dport"), needs);
  EXPECT_EQ(build_error(R"({"!protocol": "tcp", "dport": 22})", "dport"), needs);
  EXPECT_EQ(build_error(R"({"!sport": 22})", "!sport"),
            R"(: sport needs "protocol": "tcp", "udp", "udplite" or "sctp" in the same rule)");
  // The protocol may come after the port.
  EXPECT_EQ(build_error(R"({"dport": 22, "protocol": "udp"})", "dport"), "built");
  EXPECT_EQ(build_error(R"({"protocol": 6, "dport": 22})", "dport"), "built");
}

TEST(PortMatch, ValueErrors) {
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "dport": "70000"})", "dport"),
            R"(: expected a port 0-65535 or "lo:hi", got "70000")");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "dport": [22, "x"]})", "dport"),
            R"(/1: expected a port 0-65535 or a service name, got "x" (no such service in the )"
            R"(system's database))");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "dport": "90:80"})", "dport"),
            R"(: expected a range "lo:hi" with lo <= hi, got "90:80")");
}

TEST(PortMatch, ListLikeIptables) {
  auto extra = [](const char* rule, const char* key) { return listed(*build(rule, key)).extra; };
  EXPECT_EQ(extra(R"({"protocol": "tcp", "dport": 22})", "dport"), "tcp dpt:22");
  EXPECT_EQ(extra(R"({"protocol": "tcp", "!dport": 22})", "!dport"), "tcp dpt:!22");
  EXPECT_EQ(extra(R"({"protocol": "udp", "sport": "1024:65535"})", "sport"), "udp spts:1024:65535");
  EXPECT_EQ(extra(R"({"protocol": "udp", "!sport": "1024:"})", "!sport"), "udp spts:!1024:65535");
  EXPECT_EQ(extra(R"({"protocol": "sctp", "!dport": "5:6"})", "!dport"), "sctp dpts:!5:6");
  EXPECT_EQ(extra(R"({"protocol": "tcp", "dport": "0:65535"})", "dport"), "tcp");
  EXPECT_EQ(extra(R"({"protocol": "tcp", "!dport": "0:65535"})", "!dport"), "tcp dpts:!0:65535");
  EXPECT_EQ(extra(R"({"protocol": "tcp", "dport": [80, 443, "8000:8080"]})", "dport"),
            "multiport dports 80,443,8000:8080");
  EXPECT_EQ(extra(R"({"protocol": "tcp", "!dport": [80, 443]})", "!dport"),
            "multiport dports  !80,443");
  EXPECT_EQ(extra(R"({"protocol": "tcp", "sport": [80]})", "sport"), "multiport sports 80");
  EXPECT_EQ(extra(R"({"protocol": "udplite", "dport": "5:6"})", "dport"), "multiport dports 5:6");
}

TEST(PortMatch, SaveLikeIptables) {
  auto line = [](const char* rule, const char* key) { return saved(*build(rule, key)); };
  EXPECT_EQ(line(R"({"protocol": "tcp", "dport": 22})", "dport"), " -m tcp --dport 22");
  EXPECT_EQ(line(R"({"protocol": "tcp", "!dport": 22})", "!dport"), " -m tcp ! --dport 22");
  EXPECT_EQ(line(R"({"protocol": "udp", "sport": "1024:65535"})", "sport"),
            " -m udp --sport 1024:65535");
  EXPECT_EQ(line(R"({"protocol": "sctp", "dport": 5})", "dport"), " -m sctp --dport 5");
  EXPECT_EQ(line(R"({"protocol": "tcp", "dport": "0:65535"})", "dport"), " -m tcp");
  EXPECT_EQ(line(R"({"protocol": "tcp", "dport": [80, 443, "8000:8080"]})", "dport"),
            " -m multiport --dports 80,443,8000:8080");
  EXPECT_EQ(line(R"({"protocol": "tcp", "!sport": [80, "90:90"]})", "!sport"),
            " -m multiport ! --sports 80,90");
  EXPECT_EQ(line(R"({"protocol": "udplite", "sport": 7})", "sport"), " -m multiport --sports 7");
}

// ---- tcp_flags, syn

TEST(TcpFlagsMatch, MaskAndCompare) {
  auto syn_only = build(R"({"protocol": "tcp", "tcp_flags": {"mask": ["SYN", "ACK"],
                                                            "compare": "SYN"}})",
                        "tcp_flags");
  EXPECT_TRUE(hits(*syn_only, kTcp22));
  EXPECT_FALSE(hits(*syn_only, kTcp80));
  EXPECT_FALSE(
      hits(*syn_only,
           ipv4(ipproto::kTcp,
                tcp_header({.sport = 1, .dport = 2, .flags = tcpflag::kSyn | tcpflag::kAck}))));
  auto none =
      build(R"({"protocol": "tcp", "tcp_flags": {"mask": "ALL", "compare": "NONE"}})", "tcp_flags");
  EXPECT_TRUE(hits(*none, ipv4(ipproto::kTcp, tcp_header({.sport = 1, .dport = 2, .flags = 0}))));
  EXPECT_FALSE(hits(*none, kTcp22));
  auto not_ack = build(
      R"({"protocol": "tcp", "!tcp_flags": {"mask": "SYN,ACK", "compare": "ACK"}})", "!tcp_flags");
  EXPECT_FALSE(hits(*not_ack, kTcp80));
  EXPECT_TRUE(hits(*not_ack, kTcp22));
}

TEST(TcpFlagsMatch, Syn) {
  auto syn = build(R"({"protocol": "tcp", "syn": true})", "syn");
  EXPECT_TRUE(hits(*syn, kTcp22));
  EXPECT_FALSE(hits(*syn, kTcp80));
  EXPECT_FALSE(hits(
      *syn, ipv4(ipproto::kTcp,
                 tcp_header({.sport = 1, .dport = 2, .flags = tcpflag::kSyn | tcpflag::kAck}))));
  // PSH, URG, ECE and CWR are outside --syn's mask.
  EXPECT_TRUE(hits(
      *syn,
      ipv4(ipproto::kTcp,
           tcp_header(
               {.sport = 1, .dport = 2, .flags = tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr}))));
  auto not_syn = build(R"({"protocol": "tcp", "!syn": true})", "!syn");
  EXPECT_FALSE(hits(*not_syn, kTcp22));
  EXPECT_TRUE(hits(*not_syn, kTcp80));
}

TEST(TcpFlagsMatch, NoTcpHeaderNeverMatchesEvenNegated) {
  auto not_syn = build(R"({"protocol": "tcp", "!syn": true})", "!syn");
  EXPECT_FALSE(hits(*not_syn, truncated(kTcp80, 12)));
  EXPECT_FALSE(hits(
      *not_syn, ipv4(ipproto::kTcp, tcp_header({.sport = 1, .dport = 2, .flags = tcpflag::kAck}),
                     {.fragment_offset = 3})));
  EXPECT_FALSE(hits(*not_syn, kUdp53));
}

TEST(TcpFlagsMatch, Errors) {
  EXPECT_EQ(build_error(R"({"syn": true})", "syn"),
            R"(: syn needs "protocol": "tcp" in the same rule)");
  EXPECT_EQ(build_error(R"({"protocol": "udp", "tcp_flags": {"mask": "ALL", "compare": "SYN"}})",
                        "tcp_flags"),
            R"(: tcp_flags needs "protocol": "tcp" in the same rule)");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "syn": false})", "syn"),
            ": expected true, got false");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "tcp_flags": "SYN"})", "tcp_flags"),
            R"(: expected an object with mask, compare, got "SYN")");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "tcp_flags": {"mask": "SYN"}})", "tcp_flags"),
            R"(: "tcp_flags" needs "compare")");
  EXPECT_EQ(build_error(R"({"protocol": "tcp", "tcp_flags": {"mask": "SYN", "cmp": "SYN"}})",
                        "tcp_flags"),
            R"(/cmp: unknown key "cmp"; expected mask, compare)");
  const std::string flags =
      ": expected a list or comma-separated string of FIN, SYN, RST, PSH, ACK, URG, ALL, NONE, "
      "got ";
  EXPECT_EQ(
      build_error(R"({"protocol": "tcp", "tcp_flags": {"mask": "SYN,AKC", "compare": "SYN"}})",
                  "tcp_flags"),
      "/mask" + flags + "\"SYN,AKC\"");
  EXPECT_EQ(
      build_error(R"({"protocol": "tcp", "tcp_flags": {"mask": "ALL", "compare": ["SYN", "ECE"]}})",
                  "tcp_flags"),
      "/compare/1" + flags + "\"ECE\"");
}

TEST(TcpFlagsMatch, ListAndSave) {
  auto syn = build(R"({"protocol": "tcp", "syn": true})", "syn");
  EXPECT_EQ(listed(*syn).extra, "tcp flags:0x17/0x02");
  EXPECT_EQ(saved(*syn), " -m tcp --tcp-flags FIN,SYN,RST,ACK SYN");
  auto not_syn = build(R"({"protocol": "tcp", "!syn": true})", "!syn");
  EXPECT_EQ(listed(*not_syn).extra, "tcp flags:!0x17/0x02");
  EXPECT_EQ(saved(*not_syn), " -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN");
  auto none =
      build(R"({"protocol": "tcp", "tcp_flags": {"mask": ["ALL"], "compare": []}})", "tcp_flags");
  EXPECT_EQ(listed(*none).extra, "tcp flags:0x3F/0x00");
  EXPECT_EQ(saved(*none), " -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE");
  // An empty mask tests nothing; iptables shows only the match name.
  auto nothing = build(R"({"protocol": "tcp", "tcp_flags": {"mask": "NONE", "compare": "NONE"}})",
                       "tcp_flags");
  EXPECT_EQ(listed(*nothing).extra, "tcp");
  EXPECT_EQ(saved(*nothing), " -m tcp");
  auto never = build(R"({"protocol": "tcp", "!tcp_flags": {"mask": "NONE", "compare": "NONE"}})",
                     "!tcp_flags");
  EXPECT_EQ(listed(*never).extra, "tcp flags:!0x00/0x00");
  EXPECT_EQ(saved(*never), " -m tcp ! --tcp-flags NONE NONE");
}

// ---- icmp_type

TEST(IcmpMatch, TypesAndCodes) {
  auto echo = build(R"({"protocol": "icmp", "icmp_type": "echo-request"})", "icmp_type");
  EXPECT_TRUE(hits(*echo, kIcmpEcho));
  EXPECT_FALSE(hits(*echo, ipv4(ipproto::kIcmp, icmp_message(0, 0))));
  auto port = build(R"({"protocol": "icmp", "icmp_type": "3/3"})", "icmp_type");
  EXPECT_TRUE(hits(*port, ipv4(ipproto::kIcmp, icmp_message(3, 3))));
  EXPECT_FALSE(hits(*port, ipv4(ipproto::kIcmp, icmp_message(3, 1))));
  auto unreachable = build(R"({"protocol": "icmp", "icmp_type": 3})", "icmp_type");
  EXPECT_TRUE(hits(*unreachable, ipv4(ipproto::kIcmp, icmp_message(3, 13))));
  auto named_code = build(R"({"protocol": "icmp", "icmp_type": "host-prohibited"})", "icmp_type");
  EXPECT_TRUE(hits(*named_code, ipv4(ipproto::kIcmp, icmp_message(3, 10))));
  EXPECT_FALSE(hits(*named_code, ipv4(ipproto::kIcmp, icmp_message(3, 9))));
  auto any = build(R"({"protocol": "icmp", "icmp_type": "any"})", "icmp_type");
  EXPECT_TRUE(hits(*any, ipv4(ipproto::kIcmp, icmp_message(42, 7))));
  EXPECT_EQ(echo->family(), Family::kIPv4);
}

TEST(IcmpMatch, NegatedAndMissingHeaders) {
  auto not_echo = build(R"({"protocol": "icmp", "!icmp_type": 8})", "!icmp_type");
  EXPECT_FALSE(hits(*not_echo, kIcmpEcho));
  EXPECT_TRUE(hits(*not_echo, ipv4(ipproto::kIcmp, icmp_message(0, 0))));
  EXPECT_FALSE(hits(*not_echo, truncated(ipv4(ipproto::kIcmp, icmp_message(0, 0)), 2)));
  EXPECT_FALSE(hits(*not_echo, ipv4(ipproto::kIcmp, icmp_message(0, 0), {.fragment_offset = 1})));
  auto not_any = build(R"({"protocol": "icmp", "!icmp_type": "any"})", "!icmp_type");
  EXPECT_FALSE(hits(*not_any, kIcmpEcho));
}

TEST(IcmpMatch, Errors) {
  EXPECT_EQ(build_error(R"({"icmp_type": 8})", "icmp_type"),
            R"(: icmp_type needs "protocol": "icmp" in the same rule)");
  EXPECT_EQ(build_error(R"({"protocol": "ipv6-icmp", "icmp_type": 8})", "icmp_type"),
            R"(: icmp_type needs "protocol": "icmp" in the same rule)");
  const std::string expected =
      R"(: expected an ICMP type: a number 0-255, "type/code" or a name such as "echo-request", got )";
  EXPECT_EQ(build_error(R"({"protocol": "icmp", "icmp_type": "echo"})", "icmp_type"),
            expected + "\"echo\"");
  EXPECT_EQ(build_error(R"({"protocol": "icmp", "icmp_type": 300})", "icmp_type"),
            expected + "300");
  EXPECT_EQ(
      build_error(R"({"protocol": "icmp", "icmp_type": "neighbour-solicitation"})", "icmp_type"),
      expected + "\"neighbour-solicitation\"");
}

TEST(IcmpMatch, ListAndSave) {
  auto both = [](const char* rule, const char* key) {
    auto m = build(rule, key);
    return listed(*m).extra + " |" + saved(*m);
  };
  EXPECT_EQ(both(R"({"protocol": "icmp", "icmp_type": "echo-request"})", "icmp_type"),
            "icmptype 8 | -m icmp --icmp-type 8");
  EXPECT_EQ(both(R"({"protocol": "icmp", "icmp_type": "port-unreachable"})", "icmp_type"),
            "icmptype 3 code 3 | -m icmp --icmp-type 3/3");
  EXPECT_EQ(both(R"({"protocol": "icmp", "!icmp_type": "3/3"})", "!icmp_type"),
            "icmp !type 3 code 3 | -m icmp ! --icmp-type 3/3");
  EXPECT_EQ(both(R"({"protocol": "icmp", "icmp_type": "any"})", "icmp_type"),
            "icmptype 255 | -m icmp --icmp-type any");
  EXPECT_EQ(both(R"({"protocol": "icmp", "icmp_type": "time-exceeded"})", "icmp_type"),
            "icmptype 11 | -m icmp --icmp-type 11");
}

// ---- icmpv6_type

TEST(Icmpv6Match, TypesCodesAndNegation) {
  auto ping = build(R"({"protocol": "ipv6-icmp", "icmpv6_type": "echo-request"})", "icmpv6_type");
  EXPECT_TRUE(hits(*ping, ipv6(ipproto::kIcmpv6, icmp_message(128, 0))));
  EXPECT_FALSE(hits(*ping, ipv6(ipproto::kIcmpv6, icmp_message(129, 0))));
  auto ns =
      build(R"({"protocol": "icmpv6", "icmpv6_type": "neighbor-solicitation"})", "icmpv6_type");
  EXPECT_TRUE(hits(*ns, ipv6(ipproto::kIcmpv6, icmp_message(135, 0))));
  auto port = build(R"({"protocol": 58, "!icmpv6_type": "1/4"})", "!icmpv6_type");
  EXPECT_FALSE(hits(*port, ipv6(ipproto::kIcmpv6, icmp_message(1, 4))));
  EXPECT_TRUE(hits(*port, ipv6(ipproto::kIcmpv6, icmp_message(1, 3))));
  // No header, or a non-first fragment: no match either way.
  EXPECT_FALSE(hits(*port, ipv6(ipproto::kIcmpv6, Bytes{1})));
  EXPECT_FALSE(hits(*port, ipv6(ipproto::kIcmpv6, icmp_message(1, 3), {.fragment_offset = 1})));
  // 255 is an ordinary type for ICMPv6.
  auto t255 = build(R"({"protocol": "ipv6-icmp", "icmpv6_type": 255})", "icmpv6_type");
  EXPECT_FALSE(hits(*t255, ipv6(ipproto::kIcmpv6, icmp_message(128, 0))));
  EXPECT_EQ(ping->family(), Family::kIPv6);
}

TEST(Icmpv6Match, ErrorsListAndSave) {
  EXPECT_EQ(build_error(R"({"protocol": "icmp", "icmpv6_type": 128})", "icmpv6_type"),
            R"(: icmpv6_type needs "protocol": "ipv6-icmp" in the same rule)");
  EXPECT_EQ(build_error(R"({"protocol": "ipv6-icmp", "icmpv6_type": "any"})", "icmpv6_type"),
            ": expected an ICMPv6 type: a number 0-255, \"type/code\" or a name such as "
            "\"echo-request\", got \"any\"");
  auto ping = build(R"({"protocol": "ipv6-icmp", "icmpv6_type": "ping"})", "icmpv6_type");
  EXPECT_EQ(listed(*ping).extra, "ipv6-icmptype 128");
  EXPECT_EQ(saved(*ping), " -m icmp6 --icmpv6-type 128");
  auto port =
      build(R"({"protocol": "ipv6-icmp", "!icmpv6_type": "port-unreachable"})", "!icmpv6_type");
  EXPECT_EQ(listed(*port).extra, "ipv6-icmp !type 1 code 4");
  EXPECT_EQ(saved(*port), " -m icmp6 ! --icmpv6-type 1/4");
}

// ---- fragment

TEST(FragmentMatch, NonFirstFragmentsOnly) {
  auto fragment = build(R"({"fragment": true})", "fragment");
  const Bytes later = ipv4(ipproto::kUdp, udp_header(1, 2), {.fragment_offset = 185});
  const Bytes first = ipv4(ipproto::kUdp, udp_header(1, 2), {.more_fragments = true});
  EXPECT_TRUE(hits(*fragment, later));
  EXPECT_FALSE(hits(*fragment, first));
  EXPECT_FALSE(hits(*fragment, kUdp53));
  auto not_fragment = build(R"({"!fragment": true})", "!fragment");
  EXPECT_FALSE(hits(*not_fragment, later));
  EXPECT_TRUE(hits(*not_fragment, first));
  EXPECT_TRUE(hits(*not_fragment, kUdp53));
  EXPECT_EQ(fragment->family(), Family::kIPv4);
}

TEST(FragmentMatch, ErrorsListAndSave) {
  EXPECT_EQ(build_error(R"({"fragment": false})", "fragment"), ": expected true, got false");
  EXPECT_EQ(build_error(R"({"fragment": 1})", "fragment"), ": expected true, got 1");
  auto fragment = build(R"({"fragment": true})", "fragment");
  EXPECT_EQ(listed(*fragment).option, "-f");
  EXPECT_EQ(saved(*fragment), " -f");
  auto not_fragment = build(R"({"!fragment": true})", "!fragment");
  EXPECT_EQ(listed(*not_fragment).option, "!f");
  EXPECT_EQ(saved(*not_fragment), " ! -f");
}

// ---- mark

TEST(MarkMatch, ValueUnderMask) {
  auto low_byte = build(R"({"mark": "0x1/0xff"})", "mark");
  EXPECT_TRUE(hits(*low_byte, kUdp53, marked(0x1)));
  EXPECT_TRUE(hits(*low_byte, kUdp53, marked(0xab01)));
  EXPECT_FALSE(hits(*low_byte, kUdp53, marked(0x2)));
  auto exact = build(R"({"mark": 5})", "mark");
  EXPECT_TRUE(hits(*exact, kUdp53, marked(5)));
  EXPECT_FALSE(hits(*exact, kUdp53, marked(0x105)));
  auto not_one = build(R"({"!mark": "0x1"})", "!mark");
  EXPECT_FALSE(hits(*not_one, kUdp53, marked(1)));
  EXPECT_TRUE(hits(*not_one, kUdp53, marked(0)));
}

TEST(MarkMatch, ErrorsListAndSave) {
  EXPECT_EQ(build_error(R"({"mark": "0x1/0xfffffffff"})", "mark"),
            R"(: expected a mark "value" or "value/mask" of 32 bits, got "0x1/0xfffffffff")");
  EXPECT_EQ(build_error(R"({"mark": -1})", "mark"),
            R"(: expected a mark "value" or "value/mask" of 32 bits, got -1)");
  auto masked = build(R"({"mark": "0x1/0xff"})", "mark");
  EXPECT_EQ(listed(*masked).extra, "mark match 0x1/0xff");
  EXPECT_EQ(saved(*masked), " -m mark --mark 0x1/0xff");
  auto plain = build(R"({"!mark": "0x1/0xffffffff"})", "!mark");
  EXPECT_EQ(listed(*plain).extra, "mark match ! 0x1");
  EXPECT_EQ(saved(*plain), " -m mark ! --mark 0x1");
}

// ---- length

TEST(LengthMatch, IpTotalLengthAndIpv6PayloadPlusHeader) {
  auto range = build(R"({"length": "28:40"})", "length");
  EXPECT_TRUE(hits(*range, kUdp53));  // 20 + 8
  EXPECT_TRUE(hits(*range, kTcp22));  // 20 + 20
  EXPECT_FALSE(hits(*range, ipv4(ipproto::kUdp, Bytes(21, 0))));
  auto v6 = build(R"({"length": 48})", "length");
  EXPECT_TRUE(hits(*v6, ipv6(ipproto::kUdp, udp_header(1, 2))));
  auto not_28 = build(R"({"!length": 28})", "!length");
  EXPECT_FALSE(hits(*not_28, kUdp53));
  EXPECT_TRUE(hits(*not_28, kTcp22));
}

TEST(LengthMatch, ErrorsListAndSave) {
  EXPECT_EQ(build_error(R"({"length": 65536})", "length"),
            R"(: expected a number 0-65535 or "lo:hi", got 65536)");
  EXPECT_EQ(build_error(R"({"length": "200:100"})", "length"),
            R"(: expected a range "lo:hi" with lo <= hi, got "200:100")");
  auto range = build(R"({"length": "100:200"})", "length");
  EXPECT_EQ(listed(*range).extra, "length 100:200");
  EXPECT_EQ(saved(*range), " -m length --length 100:200");
  auto single = build(R"({"!length": 100})", "!length");
  EXPECT_EQ(listed(*single).extra, "length !100");
  EXPECT_EQ(saved(*single), " -m length ! --length 100");
  EXPECT_EQ(saved(*build(R"({"length": ":100"})", "length")), " -m length --length 0:100");
}

// ---- ttl, hop_limit

TEST(TtlMatch, Comparisons) {
  const Bytes ttl64 = ipv4(ipproto::kUdp, udp_header(1, 2), {.ttl = 64});
  EXPECT_TRUE(hits(*build(R"({"ttl": {"eq": 64}})", "ttl"), ttl64));
  EXPECT_FALSE(hits(*build(R"({"ttl": {"eq": 63}})", "ttl"), ttl64));
  EXPECT_FALSE(hits(*build(R"({"!ttl": {"eq": 64}})", "!ttl"), ttl64));
  EXPECT_TRUE(hits(*build(R"({"!ttl": {"eq": 63}})", "!ttl"), ttl64));
  EXPECT_TRUE(hits(*build(R"({"ttl": {"lt": 65}})", "ttl"), ttl64));
  EXPECT_FALSE(hits(*build(R"({"ttl": {"lt": 64}})", "ttl"), ttl64));
  EXPECT_TRUE(hits(*build(R"({"ttl": {"gt": 63}})", "ttl"), ttl64));
  EXPECT_FALSE(hits(*build(R"({"ttl": {"gt": 64}})", "ttl"), ttl64));
  const Bytes hl1 = ipv6(ipproto::kUdp, udp_header(1, 2), {.hop_limit = 1});
  EXPECT_TRUE(hits(*build(R"({"hop_limit": {"lt": 2}})", "hop_limit"), hl1));
  EXPECT_FALSE(hits(*build(R"({"!hop_limit": {"eq": 1}})", "!hop_limit"), hl1));
  EXPECT_EQ(build(R"({"ttl": {"eq": 1}})", "ttl")->family(), Family::kIPv4);
  EXPECT_EQ(build(R"({"hop_limit": {"eq": 1}})", "hop_limit")->family(), Family::kIPv6);
}

TEST(TtlMatch, Errors) {
  EXPECT_EQ(build_error(R"({"ttl": 64})", "ttl"), ": expected an object with eq, lt, gt, got 64");
  EXPECT_EQ(build_error(R"({"ttl": {}})", "ttl"), R"(: ttl needs one of "eq", "lt" or "gt")");
  EXPECT_EQ(build_error(R"({"ttl": {"eq": 1, "lt": 2}})", "ttl"),
            R"(: ttl takes at most one of "eq", "lt" or "gt")");
  EXPECT_EQ(build_error(R"({"ttl": {"ne": 1}})", "ttl"),
            R"(/ne: unknown key "ne"; expected eq, lt, gt)");
  EXPECT_EQ(build_error(R"({"ttl": {"eq": 256}})", "ttl"), "/eq: expected a number 0-255, got 256");
  EXPECT_EQ(build_error(R"({"hop_limit": {"gt": -1}})", "hop_limit"),
            "/gt: expected a number 0-255, got -1");
  EXPECT_EQ(build_error(R"({"!ttl": {"lt": 5}})", "!ttl"),
            R"(/lt: only "eq" can be negated; write the opposite comparison instead)");
}

TEST(TtlMatch, ListAndSave) {
  auto both = [](const char* rule, const char* key) {
    auto m = build(rule, key);
    return listed(*m).extra + " |" + saved(*m);
  };
  EXPECT_EQ(both(R"({"ttl": {"eq": 64}})", "ttl"), "TTL match TTL == 64 | -m ttl --ttl-eq 64");
  EXPECT_EQ(both(R"({"!ttl": {"eq": 64}})", "!ttl"), "TTL match TTL != 64 | -m ttl ! --ttl-eq 64");
  EXPECT_EQ(both(R"({"ttl": {"lt": 10}})", "ttl"), "TTL match TTL < 10 | -m ttl --ttl-lt 10");
  EXPECT_EQ(both(R"({"ttl": {"gt": 5}})", "ttl"), "TTL match TTL > 5 | -m ttl --ttl-gt 5");
  EXPECT_EQ(both(R"({"hop_limit": {"eq": 64}})", "hop_limit"),
            "HL match HL == 64 | -m hl --hl-eq 64");
  EXPECT_EQ(both(R"({"!hop_limit": {"eq": 64}})", "!hop_limit"),
            "HL match HL != 64 | -m hl ! --hl-eq 64");
  EXPECT_EQ(both(R"({"hop_limit": {"lt": 2}})", "hop_limit"), "HL match HL < 2 | -m hl --hl-lt 2");
  EXPECT_EQ(both(R"({"hop_limit": {"gt": 9}})", "hop_limit"), "HL match HL > 9 | -m hl --hl-gt 9");
}

// ---- src_range, dst_range

TEST(IpRangeMatch, InclusiveRanges) {
  auto range = build(R"({"src_range": "10.0.0.1-10.0.0.9"})", "src_range");
  EXPECT_TRUE(hits(*range, kUdp53));
  EXPECT_TRUE(hits(*range, ipv4(ipproto::kUdp, udp_header(1, 2), {.source = "10.0.0.9"})));
  EXPECT_FALSE(hits(*range, ipv4(ipproto::kUdp, udp_header(1, 2), {.source = "10.0.0.10"})));
  EXPECT_FALSE(hits(*range, ipv4(ipproto::kUdp, udp_header(1, 2), {.source = "10.0.0.0"})));
  auto not_dst = build(R"({"!dst_range": "10.0.0.2-10.0.0.2"})", "!dst_range");
  EXPECT_FALSE(hits(*not_dst, kUdp53));
  EXPECT_TRUE(hits(*not_dst, ipv4(ipproto::kUdp, udp_header(1, 2), {.destination = "10.0.0.3"})));
  auto v6 = build(R"({"dst_range": "2001:db8::1-2001:db8::ff"})", "dst_range");
  EXPECT_TRUE(hits(*v6, ipv6(ipproto::kUdp, udp_header(1, 2))));
  EXPECT_FALSE(hits(*v6, ipv6(ipproto::kUdp, udp_header(1, 2), {.destination = "2001:db8::100"})));
  EXPECT_EQ(range->family(), Family::kIPv4);
  EXPECT_EQ(v6->family(), Family::kIPv6);
}

TEST(IpRangeMatch, ErrorsListAndSave) {
  const std::string expected =
      R"(: expected "first-last", two addresses of one family with first <= last, got )";
  EXPECT_EQ(build_error(R"({"src_range": "10.0.0.9-10.0.0.1"})", "src_range"),
            expected + R"("10.0.0.9-10.0.0.1")");
  EXPECT_EQ(build_error(R"({"src_range": "10.0.0.1-2001:db8::1"})", "src_range"),
            expected + R"("10.0.0.1-2001:db8::1")");
  // One address is a range of one, as iptables takes it.
  EXPECT_EQ(saved(*build(R"({"src_range": "10.0.0.1"})", "src_range")),
            " -m iprange --src-range 10.0.0.1-10.0.0.1");
  EXPECT_EQ(build_error(R"({"dst_range": 5})", "dst_range"), expected + "5");
  auto src = build(R"({"src_range": "10.0.0.1-10.0.0.9"})", "src_range");
  EXPECT_EQ(listed(*src).extra, "source IP range 10.0.0.1-10.0.0.9");
  EXPECT_EQ(saved(*src), " -m iprange --src-range 10.0.0.1-10.0.0.9");
  auto dst = build(R"({"!dst_range": "2001:db8::1-2001:db8::9"})", "!dst_range");
  EXPECT_EQ(listed(*dst).extra, "destination IP range ! 2001:db8::1-2001:db8::9");
  EXPECT_EQ(saved(*dst), " -m iprange ! --dst-range 2001:db8::1-2001:db8::9");
  // Both ranges are one iprange match, as iptables keeps them.
  auto both = build(R"({"src_range": "10.0.0.1-10.0.0.9", "!dst_range": "10.0.1.1-10.0.1.9"})",
                    "src_range");
  EXPECT_EQ(listed(*both).extra,
            "source IP range 10.0.0.1-10.0.0.9 destination IP range ! 10.0.1.1-10.0.1.9");
  EXPECT_EQ(saved(*both),
            " -m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.0.1.1-10.0.1.9");
}

// ---- all together

TEST(Matches, EveryKeyIsRegisteredAndNegatable) {
  for (const char* key :
       {"protocol", "source", "destination", "in_interface", "out_interface", "sport", "dport",
        "tcp_flags", "syn", "icmp_type", "icmpv6_type", "fragment", "mark", "length", "ttl",
        "hop_limit", "src_range", "dst_range"}) {
    const std::vector<const MatchSpec*> owners = matches_with_key(key);
    ASSERT_FALSE(owners.empty()) << key;
    for (const MatchSpec* spec : owners) {
      for (const OptionSpec& option : spec->options) {
        if (option.key == key) {
          EXPECT_TRUE(option.negatable) << key;
        }
      }
    }
  }
}

TEST(Matches, ARuleSavesAndListsInIptablesOrder) {
  const std::string rule =
      R"({"dport": 22, "protocol": "tcp", "in_interface": "eth0", "!source": "10.0.0.0/8",
          "fragment": true, "mark": "0x1/0xff"})";
  SaveLine line;
  ListRow row;
  for (const char* key : {"dport", "protocol", "in_interface", "!source", "fragment", "mark"}) {
    auto m = build(rule, key);
    m->save(line);
    m->list(row);
  }
  EXPECT_EQ(line.str(),
            " ! -s 10.0.0.0/8 -i eth0 -p tcp -f -m tcp --dport 22 -m mark --mark 0x1/0xff");
  EXPECT_EQ(row.protocol, "6");
  EXPECT_EQ(row.option, "-f");
  EXPECT_EQ(row.in, "eth0");
  EXPECT_EQ(row.source, "!10.0.0.0/8");
  EXPECT_EQ(row.extra, "tcp dpt:22 mark match 0x1/0xff");
}

}  // namespace
}  // namespace verdictd
