// PacketView::parse on packets built byte by byte: good IPv4/IPv6 packets of
// each transport, IPv4 options, IPv6 extension headers, fragments, every
// truncation point, malformed headers and random bytes.
#include "packet/packet.hpp"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "packets.hpp"

namespace verdictd {
namespace {

using test::auth_header;
using test::Bytes;
using test::concat;
using test::fragment_header;
using test::icmp_message;
using test::options_header;
using test::put16;
using test::sctp_header;
using test::udp_header;

// ---- This file's packets (packets.hpp), every field set to a value a
// misread would show.

struct TcpFields {
  std::uint16_t sport = 40000;
  std::uint16_t dport = 22;
  std::uint8_t flags = tcpflag::kSyn;
  std::uint8_t data_offset = 5;  // in 32-bit words
  std::uint8_t reserved = 0;
  std::uint16_t window = 64240;
  std::uint16_t urgent = 0;
};

// A TCP header of data_offset * 4 bytes (at least 20), options zero.
Bytes tcp(const TcpFields& f = {}) {
  return test::tcp_header({.sport = f.sport,
                           .dport = f.dport,
                           .flags = f.flags,
                           .seq = 0x11000000,  // so a misread offset shows
                           .window = f.window,
                           .urgent = f.urgent,
                           .reserved = f.reserved,
                           .data_offset = f.data_offset});
}

test::Ipv4Header ipv4_fields() {
  return {.source = "192.0.2.1",
          .destination = "198.51.100.2",
          .id = 0xbeef,
          .tos = 0x10,
          .dont_fragment = true};
}

Bytes ipv4(std::uint8_t protocol, const Bytes& payload) {
  return test::ipv4(protocol, payload, ipv4_fields());
}

Bytes ipv6(std::uint8_t next, const Bytes& payload, std::uint8_t hop_limit = 64) {
  return test::ipv6(next, payload,
                    {.hop_limit = hop_limit, .traffic_class = 0xab, .flow_label = 0xcdef0});
}

PacketView parse(const Bytes& b) { return PacketView::parse(b); }

IpAddress address(const char* text) { return *IpAddress::parse(text); }

// ---- Good IPv4 packets.

TEST(PacketIpv4, TcpEveryField) {
  const Bytes bytes = ipv4(ipproto::kTcp, tcp({.sport = 40000,
                                               .dport = 443,
                                               .flags = tcpflag::kSyn | tcpflag::kAck,
                                               .reserved = 0x3,
                                               .window = 29200,
                                               .urgent = 7}));
  const PacketView p = parse(bytes);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.bytes.data(), bytes.data());
  EXPECT_EQ(p.bytes.size(), bytes.size());
  EXPECT_EQ(p.family, Family::kIPv4);
  EXPECT_EQ(p.source, address("192.0.2.1"));
  EXPECT_EQ(p.destination, address("198.51.100.2"));
  EXPECT_EQ(p.length, 40);
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.tos, 0x10);
  EXPECT_EQ(p.ip_id, 0xbeef);
  EXPECT_TRUE(p.dont_fragment);
  EXPECT_FALSE(p.is_fragment);
  EXPECT_FALSE(p.more_fragments);
  EXPECT_EQ(p.fragment_offset, 0);
  EXPECT_TRUE(p.is_first_fragment_or_whole());
  EXPECT_EQ(p.protocol, ipproto::kTcp);
  EXPECT_EQ(p.transport_offset, 20U);
  ASSERT_TRUE(p.has_ports);
  EXPECT_EQ(p.source_port, 40000);
  EXPECT_EQ(p.destination_port, 443);
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.tcp_flags, tcpflag::kSyn | tcpflag::kAck);
  EXPECT_EQ(p.tcp_reserved, 0x3);
  EXPECT_EQ(p.tcp_window, 29200);
  EXPECT_EQ(p.tcp_urgent, 7);
  EXPECT_FALSE(p.has_icmp);
}

TEST(PacketIpv4, TcpWithOptionsInTheTcpHeader) {
  const PacketView p = parse(ipv4(ipproto::kTcp, tcp({.flags = tcpflag::kFin, .data_offset = 15})));
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.tcp_flags, tcpflag::kFin);
  EXPECT_EQ(p.length, 20 + 60);
}

TEST(PacketIpv4, Udp) {
  const PacketView p = parse(ipv4(ipproto::kUdp, udp_header(5353, 53, 12)));
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.protocol, ipproto::kUdp);
  ASSERT_TRUE(p.has_ports);
  EXPECT_EQ(p.source_port, 5353);
  EXPECT_EQ(p.destination_port, 53);
  EXPECT_FALSE(p.has_tcp);
  EXPECT_FALSE(p.has_icmp);
}

TEST(PacketIpv4, UdpliteAndSctpPorts) {
  const PacketView lite = parse(ipv4(ipproto::kUdplite, udp_header(1000, 2000)));
  ASSERT_TRUE(lite.has_ports);
  EXPECT_EQ(lite.source_port, 1000);
  EXPECT_EQ(lite.destination_port, 2000);

  const PacketView sctp_packet = parse(ipv4(ipproto::kSctp, sctp_header(3868, 3869)));
  ASSERT_TRUE(sctp_packet.has_ports);
  EXPECT_EQ(sctp_packet.source_port, 3868);
  EXPECT_EQ(sctp_packet.destination_port, 3869);
  EXPECT_FALSE(sctp_packet.has_tcp);
}

TEST(PacketIpv4, ShortSctpHasPortsForMultiportAndSaysHowMuchIsThere) {
  Bytes short_sctp = sctp_header(3868, 3869);
  short_sctp.resize(11);
  const PacketView p = parse(ipv4(ipproto::kSctp, short_sctp));
  EXPECT_TRUE(p.has_ports);  // multiport reads these 4 bytes, like the kernel's
  EXPECT_EQ(p.destination_port, 3869);
  EXPECT_EQ(p.transport_bytes, 11U);  // the sctp match needs 12: it finds out from this
  short_sctp.resize(3);
  EXPECT_FALSE(parse(ipv4(ipproto::kSctp, short_sctp)).has_ports);
}

TEST(PacketIpv4, Icmp) {
  const PacketView p = parse(ipv4(ipproto::kIcmp, icmp_message(3, 3)));
  ASSERT_TRUE(p.has_icmp);
  EXPECT_EQ(p.icmp_type, 3);
  EXPECT_EQ(p.icmp_code, 3);
  EXPECT_FALSE(p.has_ports);
  Bytes short_icmp = icmp_message(8, 0);
  short_icmp.resize(7);
  EXPECT_FALSE(parse(ipv4(ipproto::kIcmp, short_icmp)).has_icmp);
}

TEST(PacketIpv4, Icmpv6NumberInIpv4IsNotIcmp) {
  const PacketView p = parse(ipv4(ipproto::kIcmpv6, icmp_message(128, 0)));
  EXPECT_EQ(p.protocol, ipproto::kIcmpv6);
  EXPECT_FALSE(p.has_icmp);
}

TEST(PacketIpv4, OtherProtocolByNumber) {
  const PacketView p = parse(ipv4(47, Bytes(24, 0xab)));  // GRE
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.protocol, 47);
  EXPECT_FALSE(p.has_ports);
  EXPECT_FALSE(p.has_tcp);
  EXPECT_FALSE(p.has_icmp);
}

TEST(PacketIpv4, OptionsMoveTheTransportHeader) {
  for (const std::size_t option_bytes : {4U, 20U, 40U}) {
    test::Ipv4Header f = ipv4_fields();
    f.option_bytes = option_bytes;
    const PacketView p = parse(test::ipv4(ipproto::kUdp, udp_header(68, 67), f));
    ASSERT_TRUE(p.has_network) << option_bytes;
    EXPECT_EQ(p.transport_offset, 20 + option_bytes);
    ASSERT_TRUE(p.has_ports);
    EXPECT_EQ(p.source_port, 68);
    EXPECT_EQ(p.destination_port, 67);
    EXPECT_EQ(p.destination, address("198.51.100.2"));
  }
}

TEST(PacketIpv4, OptionsCutByTheCaptureLeaveNoNetwork) {
  test::Ipv4Header f = ipv4_fields();
  f.option_bytes = 40;
  Bytes bytes = test::ipv4(ipproto::kTcp, tcp(), f);
  bytes.resize(59);
  EXPECT_FALSE(parse(bytes).has_network);
}

// ---- IPv4 fragments.

TEST(PacketIpv4, FirstFragmentHasTransportFields) {
  test::Ipv4Header f = ipv4_fields();
  f.dont_fragment = false;
  f.more_fragments = true;
  const PacketView p = parse(test::ipv4(ipproto::kTcp, tcp({.dport = 80}), f));
  EXPECT_TRUE(p.is_fragment);
  EXPECT_TRUE(p.more_fragments);
  EXPECT_FALSE(p.dont_fragment);
  EXPECT_EQ(p.fragment_offset, 0);
  EXPECT_TRUE(p.is_first_fragment_or_whole());
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.destination_port, 80);
}

TEST(PacketIpv4, LaterFragmentsHaveNoTransportFields) {
  for (const bool more : {true, false}) {
    test::Ipv4Header f = ipv4_fields();
    f.dont_fragment = false;
    f.more_fragments = more;
    f.fragment_offset = 185;
    // The payload looks like a TCP header but is the middle of the data.
    const PacketView p = parse(test::ipv4(ipproto::kTcp, tcp(), f));
    ASSERT_TRUE(p.has_network);
    EXPECT_TRUE(p.is_fragment);
    EXPECT_EQ(p.more_fragments, more);
    EXPECT_EQ(p.fragment_offset, 185);
    EXPECT_FALSE(p.is_first_fragment_or_whole());
    EXPECT_EQ(p.protocol, ipproto::kTcp);
    EXPECT_FALSE(p.has_ports);
    EXPECT_FALSE(p.has_tcp);
  }
  test::Ipv4Header f = ipv4_fields();
  f.fragment_offset = 1;
  EXPECT_FALSE(parse(test::ipv4(ipproto::kIcmp, icmp_message(8, 0), f)).has_icmp);
}

TEST(PacketIpv4, LargestFragmentOffset) {
  test::Ipv4Header f = ipv4_fields();
  f.fragment_offset = 0x1fff;
  f.dont_fragment = false;
  const PacketView p = parse(test::ipv4(ipproto::kTcp, Bytes(8, 0), f));
  EXPECT_EQ(p.fragment_offset, 0x1fff);
  EXPECT_FALSE(p.more_fragments);
}

// ---- Declared length against captured length.

TEST(PacketIpv4, BytesPastTheTotalLengthAreNotParsed) {
  // Total length says 23: the UDP header is cut by the declaration, though
  // the capture (link padding) holds all of it.
  Bytes bytes = ipv4(ipproto::kUdp, udp_header(1, 2));
  put16(bytes, 2, 23);
  const PacketView p = parse(bytes);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.length, 23);
  EXPECT_FALSE(p.has_ports);

  Bytes padded = ipv4(ipproto::kUdp, udp_header(1, 2));
  padded.resize(64, 0);
  const PacketView q = parse(padded);
  EXPECT_EQ(q.length, 28);
  EXPECT_TRUE(q.has_ports);
}

TEST(PacketIpv4, CaptureShorterThanTotalLengthParsesWhatIsThere) {
  Bytes bytes = ipv4(ipproto::kTcp, tcp({.dport = 8080}));
  put16(bytes, 2, 1500);  // the queue copied only the first 40 bytes
  const PacketView p = parse(bytes);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.length, 1500);
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.destination_port, 8080);
}

// Every prefix of a TCP/IPv4 packet: each field group appears exactly when its
// header is complete, with the right values.
TEST(PacketIpv4, EveryTruncationPointOfTcp) {
  const Bytes whole = ipv4(ipproto::kTcp, tcp({.sport = 1234, .dport = 80, .window = 512}));
  for (std::size_t n = 0; n <= whole.size(); ++n) {
    const Bytes prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    const PacketView p = parse(prefix);
    EXPECT_EQ(p.bytes.size(), n);
    EXPECT_EQ(p.has_network, n >= 20) << n;
    EXPECT_EQ(p.has_ports, n >= 24) << n;
    EXPECT_EQ(p.has_tcp, n >= 40) << n;
    EXPECT_FALSE(p.has_icmp);
    if (p.has_network) {
      EXPECT_EQ(p.source, address("192.0.2.1"));
      EXPECT_EQ(p.length, 40);
      EXPECT_EQ(p.protocol, ipproto::kTcp);
    }
    if (p.has_ports) {
      EXPECT_EQ(p.source_port, 1234);
      EXPECT_EQ(p.destination_port, 80);
    }
    if (p.has_tcp) {
      EXPECT_EQ(p.tcp_flags, tcpflag::kSyn);
      EXPECT_EQ(p.tcp_window, 512);
    }
  }
}

// ---- Malformed IPv4.

TEST(PacketIpv4, BadVersionNibble) {
  for (const std::uint8_t version : {0, 1, 5, 7, 15}) {
    Bytes bytes = ipv4(ipproto::kTcp, tcp());
    bytes[0] = static_cast<std::uint8_t>((version << 4) | 5);
    const PacketView p = parse(bytes);
    EXPECT_FALSE(p.has_network) << int{version};
    EXPECT_FALSE(p.has_ports);
  }
}

TEST(PacketIpv4, HeaderLengthBelowFive) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    Bytes bytes = ipv4(ipproto::kTcp, tcp());
    bytes[0] = static_cast<std::uint8_t>(0x40 | ihl);
    const PacketView p = parse(bytes);
    EXPECT_FALSE(p.has_network) << int{ihl};
    EXPECT_FALSE(p.has_ports);
  }
}

TEST(PacketIpv4, TotalLengthBelowHeaderLength) {
  Bytes bytes = ipv4(ipproto::kTcp, tcp());
  put16(bytes, 2, 19);
  EXPECT_FALSE(parse(bytes).has_network);
  put16(bytes, 2, 20);  // a bare header is fine
  const PacketView p = parse(bytes);
  EXPECT_TRUE(p.has_network);
  EXPECT_FALSE(p.has_ports);
}

TEST(PacketIpv4, TcpDataOffsetBelowFiveStillHasTheFixedHeader) {
  for (std::uint8_t offset = 0; offset < 5; ++offset) {
    const PacketView p = parse(
        ipv4(ipproto::kTcp, tcp({.dport = 25, .flags = tcpflag::kSyn, .data_offset = offset})));
    ASSERT_TRUE(p.has_network);
    // As the kernel's tcp match: 20 bytes are read, the data offset is not checked.
    EXPECT_TRUE(p.has_tcp) << int{offset};
    EXPECT_EQ(p.tcp_flags, tcpflag::kSyn);
    // multiport reads the ports alone, like the kernel's.
    EXPECT_TRUE(p.has_ports);
    EXPECT_EQ(p.destination_port, 25);
  }
  EXPECT_TRUE(parse(ipv4(ipproto::kTcp, tcp({.data_offset = 5}))).has_tcp);
}

TEST(PacketView, EmptyAndTinyBuffers) {
  EXPECT_FALSE(parse({}).has_network);
  EXPECT_FALSE(parse({0x45}).has_network);
  EXPECT_FALSE(parse({0x60}).has_network);
}

// ---- Good IPv6 packets.

TEST(PacketIpv6, TcpEveryField) {
  const Bytes bytes =
      ipv6(ipproto::kTcp, tcp({.sport = 50000, .dport = 22, .flags = tcpflag::kAck}), 17);
  const PacketView p = parse(bytes);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.family, Family::kIPv6);
  EXPECT_EQ(p.source, address("2001:db8::1"));
  EXPECT_EQ(p.destination, address("2001:db8::2"));
  EXPECT_EQ(p.length, 60);
  EXPECT_EQ(p.ttl, 17);
  EXPECT_EQ(p.tos, 0xab);
  EXPECT_FALSE(p.is_fragment);
  EXPECT_EQ(p.protocol, ipproto::kTcp);
  EXPECT_EQ(p.transport_offset, 40U);
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.source_port, 50000);
  EXPECT_EQ(p.destination_port, 22);
  EXPECT_EQ(p.tcp_flags, tcpflag::kAck);
}

TEST(PacketIpv6, Udp) {
  const PacketView p = parse(ipv6(ipproto::kUdp, udp_header(546, 547, 30)));
  ASSERT_TRUE(p.has_ports);
  EXPECT_EQ(p.source_port, 546);
  EXPECT_EQ(p.destination_port, 547);
  EXPECT_EQ(p.length, 40 + 38);
  EXPECT_FALSE(p.has_tcp);
}

TEST(PacketIpv6, Icmpv6) {
  const PacketView p = parse(ipv6(ipproto::kIcmpv6, icmp_message(135, 0)));
  ASSERT_TRUE(p.has_icmp);
  EXPECT_EQ(p.icmp_type, 135);
  EXPECT_EQ(p.icmp_code, 0);
  // ICMP for IPv4 carried in IPv6 is not read as ICMP.
  EXPECT_FALSE(parse(ipv6(ipproto::kIcmp, icmp_message(8, 0))).has_icmp);
}

TEST(PacketIpv6, HopByHopAndFragmentHeadersBeforeTcp) {
  const Bytes bytes =
      ipv6(0, concat({options_header(44, 1), fragment_header(ipproto::kTcp, 0, true),
                      tcp({.dport = 443, .flags = tcpflag::kSyn})}));
  const PacketView p = parse(bytes);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.protocol, ipproto::kTcp);
  EXPECT_EQ(p.transport_offset, 40U + 16 + 8);
  EXPECT_TRUE(p.is_fragment);
  EXPECT_TRUE(p.more_fragments);
  EXPECT_EQ(p.fragment_offset, 0);
  EXPECT_TRUE(p.is_first_fragment_or_whole());
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.destination_port, 443);
  EXPECT_EQ(p.tcp_flags, tcpflag::kSyn);
}

TEST(PacketIpv6, NonFirstFragmentHasProtocolButNoTransportFields) {
  const Bytes bytes = ipv6(
      0,
      concat({options_header(44), fragment_header(ipproto::kUdp, 100, false), udp_header(1, 2)}));
  const PacketView p = parse(bytes);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.protocol, ipproto::kUdp);
  EXPECT_TRUE(p.is_fragment);
  EXPECT_FALSE(p.more_fragments);
  EXPECT_EQ(p.fragment_offset, 100);
  EXPECT_FALSE(p.is_first_fragment_or_whole());
  EXPECT_FALSE(p.has_ports);
}

TEST(PacketIpv6, HeadersAfterANonFirstFragmentAreNotWalked) {
  // Bytes after a later fragment's header are data, even if the fragment
  // header names another extension header.
  const Bytes bytes = ipv6(44, concat({fragment_header(60, 3, true), options_header(6)}));
  const PacketView p = parse(bytes);
  EXPECT_EQ(p.protocol, 60);
  EXPECT_EQ(p.transport_offset, 48U);
  EXPECT_EQ(p.fragment_offset, 3);
}

TEST(PacketIpv6, AtomicFragmentIsAFragment) {
  const PacketView p =
      parse(ipv6(44, concat({fragment_header(ipproto::kUdp, 0, false), udp_header(7, 9)})));
  EXPECT_TRUE(p.is_fragment);
  EXPECT_FALSE(p.more_fragments);
  ASSERT_TRUE(p.has_ports);
  EXPECT_EQ(p.destination_port, 9);
}

TEST(PacketIpv6, RoutingAndDestinationOptionsWithLengths) {
  const Bytes bytes = ipv6(0, concat({options_header(60, 0), options_header(43, 2),
                                      options_header(ipproto::kUdp, 1), udp_header(3000, 4000)}));
  const PacketView p = parse(bytes);
  EXPECT_EQ(p.protocol, ipproto::kUdp);
  EXPECT_EQ(p.transport_offset, 40U + 8 + 24 + 16);
  ASSERT_TRUE(p.has_ports);
  EXPECT_EQ(p.source_port, 3000);
  EXPECT_EQ(p.destination_port, 4000);
}

TEST(PacketIpv6, AuthenticationHeaderCountsFourByteUnits) {
  // Length field 4: (4 + 2) * 4 = 24 bytes, not (4 + 1) * 8.
  const PacketView p =
      parse(ipv6(51, concat({auth_header(ipproto::kTcp, 4), tcp({.dport = 993})})));
  EXPECT_EQ(p.protocol, ipproto::kTcp);
  EXPECT_EQ(p.transport_offset, 64U);
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.destination_port, 993);
}

TEST(PacketIpv6, EspAndNoNextHeaderEndTheWalk) {
  const PacketView esp = parse(ipv6(60, concat({options_header(50), Bytes(32, 0x06)})));
  EXPECT_EQ(esp.protocol, 50);
  EXPECT_EQ(esp.transport_offset, 48U);
  EXPECT_FALSE(esp.has_ports);
  const PacketView none = parse(ipv6(0, concat({options_header(59), Bytes(16, 0x06)})));
  EXPECT_EQ(none.protocol, 59);
  EXPECT_EQ(none.transport_offset, 48U);
}

TEST(PacketIpv6, ExtensionChainCutByTheCapture) {
  const Bytes whole =
      ipv6(0, concat({options_header(44, 1), fragment_header(ipproto::kTcp, 0, false),
                      tcp({.dport = 80})}));
  for (std::size_t n = 0; n <= whole.size(); ++n) {
    const Bytes prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    const PacketView p = parse(prefix);
    EXPECT_EQ(p.has_network, n >= 40) << n;
    EXPECT_EQ(p.is_fragment, n >= 40 + 16 + 8) << n;
    EXPECT_EQ(p.has_ports, n >= 64 + 4) << n;
    EXPECT_EQ(p.has_tcp, n >= 64 + 20) << n;
    if (p.has_network && n < 40 + 16 + 8) {
      EXPECT_NE(p.protocol, ipproto::kTcp) << n;
    }
    if (p.has_ports) {
      EXPECT_EQ(p.destination_port, 80);
    }
  }
}

TEST(PacketIpv6, BytesPastThePayloadLengthAreNotParsed) {
  Bytes bytes = ipv6(ipproto::kUdp, udp_header(1, 2));
  put16(bytes, 4, 3);  // declares less than the ports of the UDP header
  const PacketView p = parse(bytes);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.length, 43);
  EXPECT_FALSE(p.has_ports);
  // An extension header past the payload length is not walked either.
  Bytes chain = ipv6(0, concat({options_header(ipproto::kUdp), udp_header(1, 2)}));
  put16(chain, 4, 0);
  const PacketView q = parse(chain);
  EXPECT_EQ(q.protocol, 0);
  EXPECT_FALSE(q.has_ports);
}

TEST(PacketIpv6, LargestPayloadLengthStillParsesTheCapture) {
  Bytes bytes = ipv6(ipproto::kTcp, tcp({.dport = 5201}));
  put16(bytes, 4, 0xffff);  // 65535 + 40: more than 16 bits (the length match wraps it)
  const PacketView p = parse(bytes);
  EXPECT_EQ(p.length, 0xffffU + 40);
  ASSERT_TRUE(p.has_tcp);
  EXPECT_EQ(p.destination_port, 5201);
}

// BIG TCP: a GSO packet over 64 KiB says 0 in its length field; its length is
// what the queue reported (the kernel's iph_totlen), and it is whole TCP.
TEST(PacketGso, OverSixtyFourKibibytesTakesTheQueuedLength) {
  Bytes v4 = test::ipv4_packet(ipproto::kTcp, "127.0.0.1", "127.0.0.1", 40000, 8080);
  put16(v4, 2, 0);
  const PacketView p = PacketView::parse(v4, 95284);
  ASSERT_TRUE(p.has_network);
  EXPECT_EQ(p.length, 95284U);
  EXPECT_TRUE(p.has_tcp);
  EXPECT_EQ(p.destination_port, 8080);
  Bytes v6 = ipv6(ipproto::kTcp, tcp({.dport = 8080}));
  put16(v6, 4, 0);
  const PacketView q = PacketView::parse(v6, 76847);
  EXPECT_EQ(q.length, 76847U);
  EXPECT_TRUE(q.has_tcp);
  // A length of 0 on a packet that fits 16 bits stays malformed.
  EXPECT_FALSE(PacketView::parse(v4, 60000).has_network);
  EXPECT_FALSE(PacketView::parse(v6, 60000).has_tcp);
}

TEST(PacketIpv6, HeaderShorterThanFortyBytes) {
  Bytes bytes = ipv6(ipproto::kUdp, {});
  bytes.resize(39);
  EXPECT_FALSE(parse(bytes).has_network);
}

// ---- Random input: never crashes, never reports a field whose bytes are not
// inside the buffer.

void expect_consistent(const PacketView& p, const Bytes& bytes) {
  if (!p.has_network) {
    EXPECT_FALSE(p.has_ports);
    EXPECT_FALSE(p.has_tcp);
    EXPECT_FALSE(p.has_icmp);
    return;
  }
  EXPECT_GE(bytes.size(), p.family == Family::kIPv4 ? 20U : 40U);
  EXPECT_EQ(static_cast<int>(p.family), bytes[0] >> 4);
  if (p.has_ports) {
    EXPECT_TRUE(p.is_first_fragment_or_whole());
    EXPECT_LE(p.transport_offset + 4, bytes.size());
    EXPECT_EQ(p.source_port, (bytes[p.transport_offset] << 8) | bytes[p.transport_offset + 1]);
  }
  if (p.has_tcp) {
    EXPECT_TRUE(p.has_ports);
    EXPECT_EQ(p.protocol, ipproto::kTcp);
    EXPECT_LE(p.transport_offset + 20, bytes.size());
    EXPECT_EQ(p.tcp_flags, bytes[p.transport_offset + 13]);
  }
  if (p.has_icmp) {
    EXPECT_FALSE(p.has_ports);
    EXPECT_LE(p.transport_offset + 8, bytes.size());
    EXPECT_EQ(p.icmp_type, bytes[p.transport_offset]);
  }
}

TEST(PacketView, RandomBytesNeverCrash) {
  std::mt19937 random(20261123);
  std::uniform_int_distribution<int> byte(0, 255);
  int networks = 0;
  int transports = 0;
  for (std::size_t length = 0; length <= 80; ++length) {
    for (int round = 0; round < 60; ++round) {
      Bytes bytes(length);
      for (std::uint8_t& b : bytes) {
        b = static_cast<std::uint8_t>(byte(random));
      }
      // Steer most buffers past the version check so the deeper code runs.
      if (!bytes.empty()) {
        const std::uint8_t low = bytes[0] & 0x0f;
        const std::array<std::uint8_t, 4> first = {bytes[0], 0x45,
                                                   static_cast<std::uint8_t>(0x40 | low),
                                                   static_cast<std::uint8_t>(0x60 | low)};
        bytes[0] = first[round % 4];
      }
      // A quarter: a first fragment of TCP, UDP or ICMP, the rest left random.
      if (round % 4 == 1 && bytes.size() > 9) {
        bytes[6] &= 0xe0;
        bytes[7] = 0;
        bytes[9] =
            std::array<std::uint8_t, 3>{ipproto::kTcp, ipproto::kUdp, ipproto::kIcmp}[round % 3];
      }
      const PacketView p = parse(bytes);
      expect_consistent(p, bytes);
      networks += p.has_network ? 1 : 0;
      transports += (p.has_ports || p.has_icmp) ? 1 : 0;
    }
  }
  // The steering worked: the loop reached the network and transport parsers.
  EXPECT_GT(networks, 500);
  EXPECT_GT(transports, 200);
}

// Random mutations of good packets reach the extension-header walk and the
// transport parsers far more often than uniform noise does.
TEST(PacketView, MutatedPacketsNeverCrash) {
  const std::vector<Bytes> seeds = {
      ipv4(ipproto::kTcp, tcp()),
      ipv4(ipproto::kIcmp, icmp_message(8, 0)),
      ipv6(0, concat({options_header(44), fragment_header(ipproto::kTcp, 0, true), tcp()})),
      ipv6(51, concat({auth_header(ipproto::kUdp, 1), udp_header(1, 2)})),
  };
  std::mt19937 random(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (const Bytes& seed : seeds) {
    for (int round = 0; round < 1000; ++round) {
      Bytes bytes = seed;
      std::uniform_int_distribution<std::size_t> position(0, bytes.size() - 1);
      for (int flips = 0; flips < 3; ++flips) {
        bytes[position(random)] = static_cast<std::uint8_t>(byte(random));
      }
      bytes.resize(std::uniform_int_distribution<std::size_t>(0, bytes.size())(random));
      expect_consistent(parse(bytes), bytes);
    }
  }
}

}  // namespace
}  // namespace verdictd
