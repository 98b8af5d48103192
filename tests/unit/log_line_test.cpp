// The LOG target's line, byte for byte as nf_log_syslog.c writes it for the
// same packet (each expected line worked out from the kernel's
// dump_ipv4_packet, dump_ipv6_packet and nf_log_dump_tcp_header, Linux 6.18;
// tests/integration/test_log.py compares them with the kernel's own).
#include "packet/log_line.hpp"

#include <gtest/gtest.h>

#include "packets.hpp"

namespace verdictd {
namespace {

using test::Bytes;

constexpr std::uint8_t kSyn = 0x02;

std::string line(const Bytes& packet, const LogLineInput& input) {
  return log_line(packet, packet[0] >> 4 == 6 ? Family::kIPv6 : Family::kIPv4, input);
}

const LogLineInput kInput{.prefix = "drop: ", .has_input_device = true, .in_interface = "eth0"};

TEST(LogLine, TcpSynWithSequenceAndOptions) {
  const Bytes packet = test::ipv4(
      6,
      test::tcp_header(
          {.sport = 40000, .dport = 22, .flags = kSyn, .seq = 1, .options = test::syn_options(7)}),
      {.id = 4660, .dont_fragment = true});
  LogLineInput input = kInput;
  input.flags = logflag::kTcpSequence | logflag::kTcpOptions;
  EXPECT_EQ(line(packet, input),
            "drop: IN=eth0 OUT= MAC= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 "
            "TTL=64 ID=4660 DF PROTO=TCP SPT=40000 DPT=22 SEQ=1 ACK=0 WINDOW=64240 RES=0x00 SYN "
            "URGP=0 OPT (020405B40402080A000000010000000001030307) ");
  // Without the flags: no SEQ=, ACK= or OPT.
  EXPECT_EQ(line(packet, kInput),
            "drop: IN=eth0 OUT= MAC= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 "
            "TTL=64 ID=4660 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 ");
}

TEST(LogLine, TcpReservedBitsEveryFlagAndUrgentPointer) {
  const Bytes packet = test::ipv4(
      6, test::tcp_header(
             {.sport = 1, .dport = 2, .flags = 0xff, .window = 0, .urgent = 7, .reserved = 0x0f}));
  // The lowest reserved bit is AE; RES= shows the three above it, as the
  // kernel shifts the flag word (0x0e << 2).
  EXPECT_EQ(line(packet, {}),
            "IN= OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=TCP "
            "SPT=1 DPT=2 WINDOW=0 RES=0x38 AE CWR ECE URG ACK PSH RST SYN FIN URGP=7 ");
}

TEST(LogLine, UdpAtOutputWithOwnerMarkAndTos) {
  const Bytes packet = test::ipv4(17, test::udp_header(5353, 53), {.ttl = 1, .id = 9, .tos = 0xb0});
  const LogLineInput input{.flags = logflag::kUid,
                           .out_interface = "wan0",
                           .mark = 42,
                           .owner = SocketOwner{.uid = 1000, .gid = 100}};
  EXPECT_EQ(line(packet, input),
            "IN= OUT=wan0 SRC=10.0.0.1 DST=10.0.0.2 LEN=28 TOS=0x10 PREC=0xA0 TTL=1 ID=9 "
            "PROTO=UDP SPT=5353 DPT=53 LEN=8 UID=1000 GID=100 MARK=0x2a ");
  // The owner only with --log-uid; the mark always when set.
  LogLineInput without_uid = input;
  without_uid.flags = 0;
  EXPECT_EQ(line(packet, without_uid),
            "IN= OUT=wan0 SRC=10.0.0.1 DST=10.0.0.2 LEN=28 TOS=0x10 PREC=0xA0 TTL=1 ID=9 "
            "PROTO=UDP SPT=5353 DPT=53 LEN=8 MARK=0x2a ");
}

TEST(LogLine, IcmpErrorQuotesThePacketInBrackets) {
  const Bytes udp = test::ipv4(17, test::udp_header(1234, 53, 4),
                               {.source = "10.0.0.2", .destination = "10.0.0.1", .id = 7});
  const Bytes error = test::ipv4(1, test::icmp_message(3, 3, 0, test::quote(udp, 20)));
  const LogLineInput input{
      .has_input_device = true, .in_interface = "lan0", .out_interface = "wan0", .mark = 1};
  EXPECT_EQ(line(error, input),
            "IN=lan0 OUT=wan0 MAC= SRC=10.0.0.1 DST=10.0.0.2 LEN=56 TOS=0x00 PREC=0x00 TTL=64 "
            "ID=0 PROTO=ICMP TYPE=3 CODE=3 [SRC=10.0.0.2 DST=10.0.0.1 LEN=32 TOS=0x00 PREC=0x00 "
            "TTL=64 ID=7 PROTO=UDP SPT=1234 DPT=53 LEN=12 ] MARK=0x1 ");
  // A quoted TCP header is cut short; fragmentation needed adds the MTU.
  const Bytes tcp = test::ipv4(6, test::tcp_header({.sport = 5, .dport = 6}),
                               {.source = "10.0.0.2", .destination = "10.0.0.1"});
  const Bytes too_big = test::ipv4(1, test::icmp_message(3, 4, 0, test::quote(tcp, 20)));
  EXPECT_EQ(line(too_big, {}),
            "IN= OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=56 TOS=0x00 PREC=0x00 TTL=64 ID=0 "
            "PROTO=ICMP TYPE=3 CODE=4 [SRC=10.0.0.2 DST=10.0.0.1 LEN=40 TOS=0x00 PREC=0x00 "
            "TTL=64 ID=0 PROTO=TCP INCOMPLETE [8 bytes] ] MTU=1 ");
  // An echo request: its identifier and sequence.
  EXPECT_EQ(line(test::ipv4(1, test::icmp_message(8, 0, 0x1234)), {}),
            "IN= OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=0 "
            "PROTO=ICMP TYPE=8 CODE=0 ID=4660 SEQ=1 ");
}

TEST(LogLine, FragmentsAndIpOptions) {
  const Bytes later =
      test::ipv4(17, Bytes(16, 0xee), {.fragment_offset = 185, .more_fragments = true, .id = 9});
  EXPECT_EQ(line(later, {}),
            "IN= OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=36 TOS=0x00 PREC=0x00 TTL=64 ID=9 MF "
            "FRAG:185 PROTO=UDP ");
  const Bytes with_options = test::with_ipv4_options(test::ipv4(17, test::udp_header(1, 2)), 2);
  const LogLineInput options{.flags = logflag::kIpOptions};
  EXPECT_EQ(line(with_options, options),
            "IN= OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=36 TOS=0x00 PREC=0x00 TTL=64 ID=0 "
            "OPT (0101010101010100) PROTO=UDP SPT=1 DPT=2 LEN=8 ");
}

TEST(LogLine, TruncatedAndIncomplete) {
  EXPECT_EQ(line(Bytes{0x45, 0, 0, 10, 0, 0, 0, 0, 64, 6}, {}), "IN= OUT= TRUNCATED");
  // A TCP header cut short ends the line: no MARK after it.
  const Bytes tcp = test::ipv4(6, test::tcp_header({.sport = 1, .dport = 2}));
  const LogLineInput marked{.mark = 1};
  EXPECT_EQ(line(test::slice(tcp, 0, 30), marked),
            "IN= OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=TCP "
            "INCOMPLETE [10 bytes] ");
  EXPECT_EQ(line(test::ipv4(132, test::sctp_header(1, 2)), {}),
            "IN= OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=32 TOS=0x00 PREC=0x00 TTL=64 ID=0 "
            "PROTO=132 ");
}

TEST(LogLine, Ipv6ExtensionHeadersWithAndWithoutIpOptions) {
  const Bytes packet = test::ipv6(
      0,
      test::concat({test::options_header(test::kFragmentHeader),
                    test::fragment_header(6, 0, true, 0xabcd0123),
                    test::tcp_header({.sport = 1, .dport = 2, .flags = 0x18, .window = 100})}),
      {.hop_limit = 63, .traffic_class = 0x20, .flow_label = 0x12345});
  const std::string head =
      "IN=eth0 OUT= MAC= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
      "DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=76 TC=32 HOPLIMIT=63 FLOWLBL=74565 ";
  const std::string tcp = "PROTO=TCP SPT=1 DPT=2 WINDOW=100 RES=0x00 ACK PSH URGP=0 ";
  LogLineInput input{.has_input_device = true, .in_interface = "eth0"};
  EXPECT_EQ(line(packet, input), head + "FRAG:0 INCOMPLETE ID:abcd0123 " + tcp);
  input.flags = logflag::kIpOptions;
  EXPECT_EQ(line(packet, input), head + "OPT ( ) OPT ( FRAG:0 INCOMPLETE ID:abcd0123 ) " + tcp);
}

TEST(LogLine, Ipv6LaterFragmentAndIcmpv6Error) {
  const Bytes later =
      test::ipv6_fragment(17, "2001:db8::1", "2001:db8::2", Bytes(16, 0xee), 100, false);
  EXPECT_EQ(line(later, {}),
            "IN= OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
            "DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=64 TC=0 HOPLIMIT=64 FLOWLBL=0 "
            "FRAG:800 ID:abcd0123 PROTO=UDP ");
  const Bytes udp = test::ipv6_udp_packet("2001:db8::2", "2001:db8::1", 5, 6);
  const Bytes too_big = test::ipv6(58, test::icmp_message(2, 0, 0x1234, test::quote(udp, 40)));
  const LogLineInput marked{.mark = 0xff};
  EXPECT_EQ(line(too_big, marked),
            "IN= OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
            "DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=96 TC=0 HOPLIMIT=64 FLOWLBL=0 "
            "PROTO=ICMPv6 TYPE=2 CODE=0 [SRC=2001:0db8:0000:0000:0000:0000:0000:0002 "
            "DST=2001:0db8:0000:0000:0000:0000:0000:0001 LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=0 "
            "PROTO=UDP SPT=5 DPT=6 LEN=8 ] MTU=305397761 MARK=0xff ");
  EXPECT_EQ(line(test::ipv6(58, test::icmp_message(128, 0, 7)), {}),
            "IN= OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
            "DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=0 "
            "PROTO=ICMPv6 TYPE=128 CODE=0 ID=7 SEQ=1 ");
}

// dump_mac_header: MAC= with the 14 bytes, or decoded for an Ethernet
// device; the loopback device is not decoded; unknown headers are left out.
TEST(LogLine, LinkLayerHeader) {
  const Bytes packet = test::ipv4(17, test::udp_header(1, 2));
  const std::string rest =
      "SRC=10.0.0.1 DST=10.0.0.2 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=UDP SPT=1 DPT=2 "
      "LEN=8 ";
  LogLineInput input{
      .has_input_device = true,
      .device = LinkKind::kEthernet,
      .link_header = EthernetHeader{0x02, 0, 0, 0, 0, 0x01, 0x02, 0xab, 0, 0, 0, 0x02, 0x08, 0x00},
      .in_interface = "eth0"};
  EXPECT_EQ(line(packet, input),
            "IN=eth0 OUT= MAC=02:00:00:00:00:01:02:ab:00:00:00:02:08:00 " + rest);
  input.flags = logflag::kMacDecode;
  EXPECT_EQ(line(packet, input),
            "IN=eth0 OUT= MACSRC=02:ab:00:00:00:02 MACDST=02:00:00:00:00:01 MACPROTO=0800 " + rest);
  input.device = LinkKind::kLoopback;
  EXPECT_EQ(line(packet, input),
            "IN=eth0 OUT= MAC=02:00:00:00:00:01:02:ab:00:00:00:02:08:00 " + rest);
  input.device = LinkKind::kOther;
  EXPECT_EQ(line(packet, input), "IN=eth0 OUT= MAC= " + rest);
  input.device = LinkKind::kEthernet;
  input.link_header.reset();
  EXPECT_EQ(line(packet, input), "IN=eth0 OUT= " + rest);
}

}  // namespace
}  // namespace verdictd
