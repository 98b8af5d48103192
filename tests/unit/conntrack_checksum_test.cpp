// Checksums as the kernel's conntrack tests them: which packets' transport
// checksums stand (nf_checksum over TCP, UDP, ICMP and ICMPv6), and the
// tracker calling a packet that fails INVALID only at PREROUTING and only
// when NFQUEUE says nobody verified it.
#include <gtest/gtest.h>

#include <chrono>

#include "conntrack/tracker.hpp"
#include "conntrack/transport_checksum.hpp"
#include "nat_packets.hpp"

namespace verdictd {
namespace {

using test::Bytes;
using test::icmp_message;
using test::ipv4;
using test::ipv6;
using test::quote;
using test::sealed;
using test::tcp_header;
using test::udp_header;

constexpr std::uint8_t kSyn = 0x02;
constexpr std::uint8_t kRst = 0x04;
constexpr std::uint8_t kAck = 0x10;

constexpr const char* kClient = "10.0.1.2";
constexpr const char* kServer = "10.0.2.2";
constexpr const char* kClient6 = "2001:db8:1::2";
constexpr const char* kServer6 = "2001:db8:2::2";

// The packet with one byte of its data changed: its checksum no longer stands.
Bytes corrupted(Bytes p) {
  p.back() ^= 0x5a;
  return p;
}

bool valid(const Bytes& p) { return transport_checksum_valid(PacketView::parse(p)); }

Bytes tcp4(std::uint8_t flags, std::uint32_t seq = 1000, std::uint32_t ack = 0,
           std::size_t payload = 5) {
  return sealed(ipv4(6, kClient, kServer,
                     tcp_header({.sport = 40000,
                                 .dport = 22,
                                 .flags = flags,
                                 .seq = seq,
                                 .ack = ack,
                                 .payload = payload})));
}
Bytes tcp6(std::uint8_t flags) {
  return sealed(
      ipv6(6, kClient6, kServer6,
           tcp_header({.sport = 40000, .dport = 22, .flags = flags, .seq = 1000, .payload = 5})));
}
Bytes udp4(std::size_t payload = 3) {
  return sealed(ipv4(17, kClient, kServer, udp_header(40000, 53, payload)));
}
Bytes udp6(std::size_t payload = 3) {
  return sealed(ipv6(17, kClient6, kServer6, udp_header(40000, 53, payload)));
}
Bytes echo4(std::uint8_t type = 8) {
  return sealed(ipv4(1, kClient, kServer, icmp_message(type, 0, 7, Bytes(6, 0x61))));
}
Bytes echo6(std::uint8_t type = 128) {
  return sealed(ipv6(58, kClient6, kServer6, icmp_message(type, 0, 7, Bytes(6, 0x61))));
}

int protocol_of(const Bytes& p) { return PacketView::parse(p).protocol; }

// The whole packets of every protocol and family whose checksums are tested.
std::vector<Bytes> every_checked_kind() {
  return {tcp4(kSyn), tcp6(kSyn), udp4(), udp6(), echo4(), echo6()};
}

TEST(ConntrackTransportChecksum, RightChecksumsStandAndOneChangedByteFails) {
  for (const Bytes& packet : every_checked_kind()) {
    EXPECT_TRUE(valid(packet)) << protocol_of(packet);
    EXPECT_FALSE(valid(corrupted(packet))) << protocol_of(packet);
  }
}

TEST(ConntrackTransportChecksum, OddLengthsArePaddedWithZero) {
  EXPECT_TRUE(valid(udp4(4)));
  EXPECT_FALSE(valid(corrupted(udp4(4))));
  EXPECT_TRUE(valid(udp6(4)));
  EXPECT_FALSE(valid(corrupted(udp6(4))));
}

TEST(ConntrackTransportChecksum, UdpWithoutChecksumStandsInBothFamilies) {
  // udp_error returns early for a zero checksum, IPv6 included.
  Bytes v4 = corrupted(udp4());
  test::put16(v4, 20 + 6, 0);
  EXPECT_TRUE(valid(v4));
  Bytes v6 = corrupted(udp6());
  test::put16(v6, 40 + 6, 0);
  EXPECT_TRUE(valid(v6));
}

TEST(ConntrackTransportChecksum, CoversTheWholeIpPayloadNotTheUdpLength) {
  // nf_checksum sums skb->len - dataoff bytes: two bytes past a UDP length
  // field that says 8 + 3 are covered too.
  Bytes datagram = udp_header(40000, 53, 5);
  test::put16(datagram, 4, 8 + 3);
  const Bytes whole = sealed(ipv4(17, kClient, kServer, datagram));
  EXPECT_TRUE(valid(whole));
  Bytes short_sum = ipv4(17, kClient, kServer, datagram);
  short_sum.resize(short_sum.size() - 2);
  test::put16(short_sum, 2, static_cast<std::uint16_t>(short_sum.size()));
  test::seal(short_sum);
  short_sum.insert(short_sum.end(), {0x12, 0x34});
  test::put16(short_sum, 2, static_cast<std::uint16_t>(short_sum.size()));
  test::seal_ip_header(short_sum);
  EXPECT_FALSE(valid(short_sum));
}

TEST(ConntrackTransportChecksum, IpOptionsAreSkippedAndTheHeaderAddressesSummed) {
  // Record route, 7 bytes, and an end of list: the transport starts at 28.
  Bytes packet = ipv4(6, kClient, kServer, tcp_header({.sport = 1, .dport = 2, .flags = kSyn}));
  packet.insert(packet.begin() + 20, {7, 7, 4, 0, 0, 0, 0, 0});
  packet[0] = 0x47;
  test::put16(packet, 2, static_cast<std::uint16_t>(packet.size()));
  test::seal(packet);
  ASSERT_EQ(PacketView::parse(packet).transport_offset, 28U);
  EXPECT_TRUE(valid(packet));
  // The sender summed another destination (a source route's last hop, say).
  Bytes rerouted = packet;
  rerouted[19] ^= 1;
  test::seal_ip_header(rerouted);
  EXPECT_FALSE(valid(rerouted));
}

TEST(ConntrackTransportChecksum, WhatCannotBeCheckedStands) {
  // A copy cut short.
  const Bytes cut = corrupted(tcp4(kAck));
  EXPECT_TRUE(transport_checksum_valid(PacketView::parse(std::span(cut).first(cut.size() - 3),
                                                         static_cast<std::uint32_t>(cut.size()))));
  // A fragment: the kernel tests the datagram it reassembles.
  Bytes fragment = corrupted(udp4());
  fragment[6] = 0x20;  // more fragments
  test::seal_ip_header(fragment);
  EXPECT_TRUE(valid(fragment));
  // Protocols conntrack does not test this way, and ICMP of the other family.
  EXPECT_TRUE(valid(corrupted(sealed(ipv4(47, kClient, kServer, Bytes(12, 1))))));
  EXPECT_TRUE(valid(corrupted(ipv6(1, kClient6, kServer6, icmp_message(8, 0, 7, Bytes(6, 1))))));
  EXPECT_TRUE(valid(corrupted(ipv4(58, kClient, kServer, icmp_message(128, 0, 7, Bytes(6, 1))))));
}

TEST(ConntrackTransportChecksum, RejectedOnlyAtPreroutingWhenUnverified) {
  for (const Bytes& good : every_checked_kind()) {
    const Bytes bad_bytes = corrupted(good);
    PacketView bad = PacketView::parse(bad_bytes);
    bad.checksum = ChecksumInfo::kUnverified;
    EXPECT_TRUE(checksum_rejected(bad, true));
    EXPECT_FALSE(checksum_rejected(bad, false));  // OUTPUT: the kernel trusts it
    bad.checksum = ChecksumInfo::kVerified;
    EXPECT_FALSE(checksum_rejected(bad, true));
    bad.checksum = ChecksumInfo::kPartial;
    EXPECT_FALSE(checksum_rejected(bad, true));
    PacketView right = PacketView::parse(good);
    right.checksum = ChecksumInfo::kUnverified;
    EXPECT_FALSE(checksum_rejected(right, true));
  }
}

// The tracker given packets as the queue hands them over: with NFQUEUE's
// checksum information, at PREROUTING unless told otherwise.
class ConntrackChecksum : public ::testing::Test {
 protected:
  PacketConntrack track(const Bytes& bytes, ChecksumInfo info = ChecksumInfo::kUnverified,
                        bool crossed_prerouting = true) {
    PacketConntrack ct;
    ct.now = now_;
    ct.crossed_prerouting = crossed_prerouting;
    PacketView view = PacketView::parse(bytes);
    view.checksum = info;
    tracker_.track(view, ct);
    return ct;
  }

  PacketConntrack recall(const Bytes& bytes, ChecksumInfo info = ChecksumInfo::kUnverified) const {
    PacketConntrack ct;
    ct.now = now_;
    ct.crossed_prerouting = true;
    PacketView view = PacketView::parse(bytes);
    view.checksum = info;
    tracker_.recall(view, ct);
    return ct;
  }

  ConntrackTime now_ = ConntrackTime{} + std::chrono::hours(1);
  FlowTable flows_;
  Expectations expectations_;
  Tracker tracker_{flows_, expectations_};
};

TEST_F(ConntrackChecksum, BadFirstPacketsAreInvalidAndCreateNothing) {
  for (const Bytes& good : every_checked_kind()) {
    const PacketConntrack ct = track(corrupted(good));
    EXPECT_EQ(ct.state, CtState::kInvalid) << protocol_of(good);
    EXPECT_FALSE(ct.has_flow);
    EXPECT_EQ(recall(corrupted(good)).state, CtState::kInvalid);
  }
  EXPECT_EQ(flows_.stats().flows, 0U);
  // The same packets with their checksums right start connections.
  for (const Bytes& good : every_checked_kind()) {
    EXPECT_EQ(track(good).state, CtState::kNew) << protocol_of(good);
  }
  EXPECT_EQ(flows_.stats().flows, every_checked_kind().size());
}

TEST_F(ConntrackChecksum, TrustedWhereTheKernelDoesNotTest) {
  std::size_t flows = 0;
  for (const Bytes& good : every_checked_kind()) {
    const Bytes bad = corrupted(good);
    // Verified by the driver or the stack (no flag), and at OUTPUT.
    EXPECT_EQ(track(bad, ChecksumInfo::kVerified).state, CtState::kNew);
    EXPECT_EQ(recall(bad, ChecksumInfo::kVerified).state, CtState::kNew);
    EXPECT_EQ(track(bad, ChecksumInfo::kUnverified, false).state, CtState::kNew);
    EXPECT_EQ(flows_.stats().flows, ++flows);
  }
}

TEST_F(ConntrackChecksum, PartialChecksumsStand) {
  // A veth peer's socket: the field holds only the pseudo-header sum.
  for (Bytes packet : {tcp4(kSyn), tcp6(kSyn), udp4(), udp6(), echo6()}) {
    test::make_partial(packet);
    ASSERT_FALSE(valid(packet));
    EXPECT_EQ(track(packet, ChecksumInfo::kPartial).state, CtState::kNew);
  }
}

TEST_F(ConntrackChecksum, UdpWithoutChecksumIsTracked) {
  Bytes v4 = udp4();
  test::put16(v4, 20 + 6, 0);
  EXPECT_EQ(track(v4).state, CtState::kNew);
  Bytes v6 = udp6();
  test::put16(v6, 40 + 6, 0);
  EXPECT_EQ(track(v6).state, CtState::kNew);
}

TEST_F(ConntrackChecksum, BadSegmentLeavesTheConnectionAlone) {
  ASSERT_EQ(track(tcp4(kSyn, 1000, 0, 0)).state, CtState::kNew);
  const Bytes synack = sealed(ipv4(
      6, kServer, kClient,
      tcp_header({.sport = 22, .dport = 40000, .flags = kSyn | kAck, .seq = 5000, .ack = 1001})));
  ASSERT_EQ(track(synack).state, CtState::kEstablished);
  // A reset with a bad checksum would close the connection if it counted.
  const Bytes reset = corrupted(sealed(
      ipv4(6, kServer, kClient,
           tcp_header({.sport = 22, .dport = 40000, .flags = kRst, .seq = 5001, .payload = 1}))));
  const PacketConntrack ct = track(reset);
  EXPECT_EQ(ct.state, CtState::kInvalid);
  EXPECT_FALSE(ct.has_flow);
  EXPECT_EQ(recall(reset).state, CtState::kInvalid);
  const auto flow = flows_.copy(*packet_tuple(PacketView::parse(synack)), now_);
  ASSERT_TRUE(flow);
  EXPECT_EQ(flow->flow.tcp_state, TcpState::kSynRecv);
  EXPECT_EQ(flow->flow.counters[1].packets, 1U);  // the SYN-ACK alone
  EXPECT_EQ(track(tcp4(kAck, 1001, 5001)).state, CtState::kEstablished);
}

TEST_F(ConntrackChecksum, IcmpErrorWithBadChecksumIsNotRelated) {
  const Bytes request = udp4();
  ASSERT_EQ(track(request).state, CtState::kNew);
  const Bytes unreachable =
      sealed(ipv4(1, kServer, kClient, icmp_message(3, 3, 0, quote(request, 20))));
  EXPECT_EQ(track(unreachable).state, CtState::kRelated);
  EXPECT_EQ(track(corrupted(unreachable)).state, CtState::kInvalid);
  EXPECT_EQ(recall(corrupted(unreachable)).state, CtState::kInvalid);

  const Bytes request6 = udp6();
  ASSERT_EQ(track(request6).state, CtState::kNew);
  const Bytes unreachable6 =
      sealed(ipv6(58, kServer6, kClient6, icmp_message(1, 4, 0, quote(request6, 40))));
  EXPECT_EQ(track(unreachable6).state, CtState::kRelated);
  EXPECT_EQ(track(corrupted(unreachable6)).state, CtState::kInvalid);
}

TEST_F(ConntrackChecksum, NeighbourDiscoveryWithBadChecksumIsInvalidNotUntracked) {
  // icmpv6_error tests the checksum before it leaves ND untracked.
  const Bytes solicitation =
      sealed(ipv6(58, "fe80::1", "ff02::1:ff00:2", icmp_message(135, 0, 0, Bytes(16, 0))));
  EXPECT_EQ(track(solicitation).state, CtState::kUntracked);
  EXPECT_EQ(track(corrupted(solicitation)).state, CtState::kInvalid);
}

TEST_F(ConntrackChecksum, NotrackComesFirst) {
  PacketConntrack ct;
  ct.now = now_;
  ct.notrack = true;
  ct.crossed_prerouting = true;
  const Bytes bad = corrupted(tcp4(kSyn));
  PacketView view = PacketView::parse(bad);
  view.checksum = ChecksumInfo::kUnverified;
  tracker_.track(view, ct);
  EXPECT_EQ(ct.state, CtState::kUntracked);
}

}  // namespace
}  // namespace verdictd
