// Connection tuples as the kernel's conntrack builds them: from a packet, its
// reply, the packet an ICMP error quotes, and as conntrack -L prints them.
#include <gtest/gtest.h>

#include "conntrack/flow.hpp"
#include "conntrack/tuple.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::Bytes;
using test::icmp_message;
using test::ipv4;
using test::ipv6;
using test::quote;
using test::tcp_header;
using test::udp_header;

IpAddress address(const char* text) { return *IpAddress::parse(text); }

std::optional<Tuple> tuple_of(const Bytes& bytes) { return packet_tuple(PacketView::parse(bytes)); }

TEST(ConntrackTuple, TcpCarriesAddressesAndPorts) {
  const auto tuple = tuple_of(
      ipv4(6, "10.0.0.1", "10.0.0.2", tcp_header({.sport = 40000, .dport = 22, .flags = 0x02})));
  ASSERT_TRUE(tuple);
  EXPECT_EQ(tuple->family, Family::kIPv4);
  EXPECT_EQ(tuple->protocol, 6);
  EXPECT_EQ(tuple->zone, 0);
  EXPECT_EQ(tuple->source, address("10.0.0.1"));
  EXPECT_EQ(tuple->destination, address("10.0.0.2"));
  EXPECT_EQ(tuple->source_port, 40000);
  EXPECT_EQ(tuple->destination_port, 22);
}

TEST(ConntrackTuple, UdpOverIpv6) {
  const auto tuple = tuple_of(test::ipv6_udp_packet("2001:db8::1", "2001:db8::2", 5353, 53));
  ASSERT_TRUE(tuple);
  EXPECT_EQ(tuple->family, Family::kIPv6);
  EXPECT_EQ(tuple->protocol, 17);
  EXPECT_EQ(tuple->source, address("2001:db8::1"));
  EXPECT_EQ(tuple->source_port, 5353);
  EXPECT_EQ(tuple->destination_port, 53);
}

TEST(ConntrackTuple, IcmpCarriesIdTypeAndCode) {
  const auto tuple = tuple_of(ipv4(1, "10.0.0.1", "10.0.0.2", icmp_message(8, 0, 7)));
  ASSERT_TRUE(tuple);
  EXPECT_EQ(tuple->source_port, 7);
  EXPECT_EQ(tuple->destination_port, 8 << 8);
  const auto v6 = tuple_of(ipv6(58, "2001:db8::1", "2001:db8::2", icmp_message(128, 0, 9)));
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->source_port, 9);
  EXPECT_EQ(v6->destination_port, 128 << 8);
}

TEST(ConntrackTuple, ProtocolsWithoutPortsHaveZeroPorts) {
  const auto gre = tuple_of(ipv4(47, "10.0.0.1", "10.0.0.2", Bytes(8, 0x11)));
  ASSERT_TRUE(gre);
  EXPECT_EQ(gre->protocol, 47);
  EXPECT_EQ(gre->source_port, 0);
  EXPECT_EQ(gre->destination_port, 0);
}

TEST(ConntrackTuple, MissingHeadersGiveNoTuple) {
  // Two bytes of a TCP header: no ports.
  EXPECT_FALSE(tuple_of(ipv4(6, "10.0.0.1", "10.0.0.2", Bytes{0x9c, 0x40})));
  // Four bytes of an ICMP header.
  EXPECT_FALSE(tuple_of(ipv4(1, "10.0.0.1", "10.0.0.2", Bytes(4, 0))));
  // No network header at all.
  EXPECT_FALSE(tuple_of(Bytes{0x45, 0, 0}));
  // ICMP inside IPv6, which the kernel's ICMP tracker refuses.
  EXPECT_FALSE(tuple_of(ipv6(1, "2001:db8::1", "2001:db8::2", icmp_message(8, 0, 1))));
  // An IPv6 extension header chain cut short.
  EXPECT_FALSE(tuple_of(ipv6(60, "2001:db8::1", "2001:db8::2", Bytes{17, 0, 0, 0})));
  // A later fragment has no transport header.
  Bytes fragment = ipv4(17, "10.0.0.1", "10.0.0.2", udp_header(1, 2));
  test::put16(fragment, 6, 0x0001);
  EXPECT_FALSE(tuple_of(fragment));
}

TEST(ConntrackTuple, ReplySwapsAddressesAndPorts) {
  const Tuple original{.family = Family::kIPv4,
                       .protocol = 6,
                       .source = address("10.0.0.1"),
                       .destination = address("10.0.0.2"),
                       .source_port = 40000,
                       .destination_port = 22};
  const auto reply = reply_tuple(original);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->source, original.destination);
  EXPECT_EQ(reply->destination, original.source);
  EXPECT_EQ(reply->source_port, 22);
  EXPECT_EQ(reply->destination_port, 40000);
  EXPECT_EQ(reply_tuple(*reply), original);
}

TEST(ConntrackTuple, IcmpReplyTurnsQueryIntoAnswer) {
  const auto icmp = [](Family family, std::uint8_t protocol, std::uint8_t type, std::uint8_t code) {
    return Tuple{.family = family,
                 .protocol = protocol,
                 .source = address(family == Family::kIPv4 ? "10.0.0.1" : "2001:db8::1"),
                 .destination = address(family == Family::kIPv4 ? "10.0.0.2" : "2001:db8::2"),
                 .source_port = 7,
                 .destination_port = static_cast<std::uint16_t>(type << 8 | code)};
  };
  const auto echo = reply_tuple(icmp(Family::kIPv4, 1, 8, 0));
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->destination_port, 0);  // echo reply, code 0
  EXPECT_EQ(echo->source_port, 7);       // the id stays
  EXPECT_EQ(echo->source, address("10.0.0.2"));
  // The answer's answer is the query again; the code is kept.
  EXPECT_EQ(reply_tuple(icmp(Family::kIPv4, 1, 0, 0))->destination_port, 8 << 8);
  EXPECT_EQ(reply_tuple(icmp(Family::kIPv4, 1, 13, 1))->destination_port, 14 << 8 | 1);
  EXPECT_EQ(reply_tuple(icmp(Family::kIPv4, 1, 17, 0))->destination_port, 18 << 8);
  EXPECT_EQ(reply_tuple(icmp(Family::kIPv6, 58, 128, 0))->destination_port, 129 << 8);
  EXPECT_EQ(reply_tuple(icmp(Family::kIPv6, 58, 139, 0))->destination_port, 140 << 8);
  // Errors and router messages have no answer: the kernel cannot track them.
  EXPECT_FALSE(reply_tuple(icmp(Family::kIPv4, 1, 3, 3)));
  EXPECT_FALSE(reply_tuple(icmp(Family::kIPv4, 1, 9, 0)));
  EXPECT_FALSE(reply_tuple(icmp(Family::kIPv6, 58, 1, 4)));
  EXPECT_FALSE(reply_tuple(icmp(Family::kIPv6, 58, 8, 0)));  // IPv4's echo type number
}

TEST(ConntrackTuple, QuotedTupleOfAPortUnreachable) {
  const Bytes sent = ipv4(17, "10.0.0.1", "10.0.0.2", udp_header(5000, 53, 20));
  const Bytes error = ipv4(1, "10.0.0.2", "10.0.0.1", icmp_message(3, 3, 0, quote(sent, 20)));
  const auto quoted = quoted_tuple(PacketView::parse(error));
  ASSERT_TRUE(quoted);
  EXPECT_EQ(*quoted, *tuple_of(sent));
}

TEST(ConntrackTuple, QuotedTupleOfTcpAndIcmpv6) {
  const Bytes segment = ipv4(6, "10.0.0.1", "10.0.0.2", tcp_header({.sport = 1, .dport = 80}));
  const Bytes exceeded =
      ipv4(1, "10.9.9.9", "10.0.0.1", icmp_message(11, 0, 0, quote(segment, 20)));
  EXPECT_EQ(quoted_tuple(PacketView::parse(exceeded)), tuple_of(segment));

  const Bytes sent = test::ipv6_udp_packet("2001:db8::1", "2001:db8::2", 5000, 53);
  const Bytes error =
      ipv6(58, "2001:db8::2", "2001:db8::1", icmp_message(1, 4, 0, quote(sent, 40)));
  EXPECT_EQ(quoted_tuple(PacketView::parse(error)), tuple_of(sent));
}

TEST(ConntrackTuple, NoQuotedTupleWhenNoErrorOrCutShort) {
  const Bytes sent = ipv4(17, "10.0.0.1", "10.0.0.2", udp_header(5000, 53));
  // An echo request is no error, whatever follows its header.
  const Bytes echo = ipv4(1, "10.0.0.2", "10.0.0.1", icmp_message(8, 0, 1, quote(sent, 20)));
  EXPECT_FALSE(quoted_tuple(PacketView::parse(echo)));
  // The quote ends inside the IP header.
  const Bytes cut(sent.begin(), sent.begin() + 12);
  const Bytes short_error = ipv4(1, "10.0.0.2", "10.0.0.1", icmp_message(3, 3, 0, cut));
  EXPECT_FALSE(quoted_tuple(PacketView::parse(short_error)));
  // An IPv6 packet quoted in an ICMP (v4) error.
  const Bytes v6 = test::ipv6_udp_packet("2001:db8::1", "2001:db8::2", 5000, 53);
  const Bytes mixed = ipv4(1, "10.0.0.2", "10.0.0.1", icmp_message(3, 3, 0, quote(v6, 40)));
  EXPECT_FALSE(quoted_tuple(PacketView::parse(mixed)));
}

TEST(ConntrackTuple, TextAsConntrackPrintsIt) {
  EXPECT_EQ(tuple_text(*tuple_of(
                ipv4(6, "10.0.0.1", "10.0.0.2", tcp_header({.sport = 40000, .dport = 22})))),
            "src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=22");
  EXPECT_EQ(tuple_text(*tuple_of(ipv4(1, "10.0.0.1", "10.0.0.2", icmp_message(8, 0, 7)))),
            "src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7");
  EXPECT_EQ(tuple_text(*tuple_of(test::ipv6_udp_packet("2001:db8::1", "2001:db8::2", 1, 2))),
            "src=2001:db8::1 dst=2001:db8::2 sport=1 dport=2");
  EXPECT_EQ(tuple_text(*tuple_of(ipv4(47, "10.0.0.1", "10.0.0.2", Bytes(8, 0)))),
            "src=10.0.0.1 dst=10.0.0.2 srckey=0x0 dstkey=0x0");
  EXPECT_EQ(tuple_text(*tuple_of(ipv4(50, "10.0.0.1", "10.0.0.2", Bytes(8, 0)))),
            "src=10.0.0.1 dst=10.0.0.2");
}

TEST(ConntrackTuple, HashFollowsEquality) {
  const Tuple a = *tuple_of(ipv4(17, "10.0.0.1", "10.0.0.2", udp_header(1000, 53)));
  const Tuple b = *tuple_of(ipv4(17, "10.0.0.1", "10.0.0.2", udp_header(1000, 53)));
  const Tuple c = *tuple_of(ipv4(17, "10.0.0.1", "10.0.0.2", udp_header(1001, 53)));
  EXPECT_EQ(TupleHash{}(a), TupleHash{}(b));
  EXPECT_NE(TupleHash{}(a), TupleHash{}(c));
  EXPECT_NE(TupleHash{}(a), TupleHash{}(*reply_tuple(a)));
}

TEST(ConntrackTuple, StateNames) {
  EXPECT_EQ(ct_state_name(CtState::kInvalid), "INVALID");
  EXPECT_EQ(ct_state_name(CtState::kNew), "NEW");
  EXPECT_EQ(ct_state_name(CtState::kEstablished), "ESTABLISHED");
  EXPECT_EQ(ct_state_name(CtState::kRelated), "RELATED");
  EXPECT_EQ(ct_state_name(CtState::kUntracked), "UNTRACKED");
  EXPECT_EQ(tcp_state_name(TcpState::kNone), "NONE");
  EXPECT_EQ(tcp_state_name(TcpState::kSynSent), "SYN_SENT");
  EXPECT_EQ(tcp_state_name(TcpState::kSynRecv), "SYN_RECV");
  EXPECT_EQ(tcp_state_name(TcpState::kEstablished), "ESTABLISHED");
  EXPECT_EQ(tcp_state_name(TcpState::kFinWait), "FIN_WAIT");
  EXPECT_EQ(tcp_state_name(TcpState::kCloseWait), "CLOSE_WAIT");
  EXPECT_EQ(tcp_state_name(TcpState::kLastAck), "LAST_ACK");
  EXPECT_EQ(tcp_state_name(TcpState::kTimeWait), "TIME_WAIT");
  EXPECT_EQ(tcp_state_name(TcpState::kClose), "CLOSE");
  EXPECT_EQ(tcp_state_name(TcpState::kSynSent2), "SYN_SENT2");
}

}  // namespace
}  // namespace verdictd
