// Tracker: each packet's connection state as the kernel's conntrack gives it
// (TCP, UDP, ICMP and ICMPv6, errors, expectations), what later hooks recall,
// dropped first packets, and the kernel asked on a miss.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "conntrack/tracker.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using std::chrono::seconds;
using test::Bytes;
using test::icmp_message;
using test::ipv4;
using test::ipv6;
using test::quote;
using test::tcp_header;
using test::udp_header;

constexpr std::uint8_t kFin = 0x01;
constexpr std::uint8_t kSyn = 0x02;
constexpr std::uint8_t kRst = 0x04;
constexpr std::uint8_t kPsh = 0x08;
constexpr std::uint8_t kAck = 0x10;
constexpr std::uint8_t kUrg = 0x20;

constexpr const char* kClient = "10.0.1.2";
constexpr const char* kServer = "10.0.2.2";
constexpr const char* kClient6 = "2001:db8:1::2";
constexpr const char* kServer6 = "2001:db8:2::2";

class ConntrackTracker : public ::testing::Test {
 protected:
  PacketConntrack track(const Bytes& bytes, seconds at = seconds{0}) {
    PacketConntrack ct;
    ct.now = start_ + at;
    tracker_.track(PacketView::parse(bytes), ct);
    return ct;
  }

  PacketConntrack recall(const Bytes& bytes, seconds at = seconds{0}) const {
    PacketConntrack ct;
    ct.now = start_ + at;
    tracker_.recall(PacketView::parse(bytes), ct);
    return ct;
  }

  std::optional<Flow> flow_of(const Bytes& bytes, seconds at = seconds{0}) const {
    const auto found = flows_.copy(*packet_tuple(PacketView::parse(bytes)), start_ + at);
    if (!found) return std::nullopt;
    return found->flow;
  }

  // A TCP segment between kClient:40000 and kServer:22, each with its own IP id.
  Bytes client(std::uint8_t flags, std::uint32_t seq = 1000, std::uint32_t ack = 0) const {
    return ipv4(6, kClient, kServer,
                tcp_header({.sport = 40000, .dport = 22, .flags = flags, .seq = seq, .ack = ack}),
                next_id_++);
  }
  Bytes server(std::uint8_t flags, std::uint32_t seq = 5000, std::uint32_t ack = 1001) const {
    return ipv4(6, kServer, kClient,
                tcp_header({.sport = 22, .dport = 40000, .flags = flags, .seq = seq, .ack = ack}),
                next_id_++);
  }

  // Any TCP segment between kClient:40000 and kServer:22.
  Bytes from_client(test::Segment segment) const {
    segment.sport = 40000;
    segment.dport = 22;
    return ipv4(6, kClient, kServer, tcp_header(segment), next_id_++);
  }
  Bytes from_server(test::Segment segment) const {
    segment.sport = 22;
    segment.dport = 40000;
    return ipv4(6, kServer, kClient, tcp_header(segment), next_id_++);
  }

  // A handshake as two Linux hosts make it: window scale 7 both ways, SACK
  // permitted, and the scaled windows after it. The client's next sequence
  // number is 1001, the server's 5001.
  void scaled_handshake() {
    ASSERT_EQ(
        track(from_client({.flags = kSyn, .seq = 1000, .options = test::syn_options(7)})).state,
        CtState::kNew);
    ASSERT_EQ(track(from_server({.flags = kSyn | kAck,
                                 .seq = 5000,
                                 .ack = 1001,
                                 .window = 65160,
                                 .options = test::syn_options(7)}))
                  .state,
              CtState::kEstablished);
    ASSERT_EQ(track(from_client({.flags = kAck, .seq = 1001, .ack = 5001, .window = 502})).state,
              CtState::kEstablished);
  }

  // SYN, SYN/ACK, ACK.
  void handshake() {
    ASSERT_EQ(track(client(kSyn)).state, CtState::kNew);
    ASSERT_EQ(track(server(kSyn | kAck)).state, CtState::kEstablished);
    ASSERT_EQ(track(client(kAck, 1001, 5001)).state, CtState::kEstablished);
  }

  TcpState tcp_state() const { return flow_of(server(kAck))->tcp_state; }
  ConntrackTime expires() const { return flow_of(server(kAck))->expires; }

  ConntrackTime start_ = ConntrackTime{} + std::chrono::hours(1);
  FlowTable flows_;
  Expectations expectations_;
  Tracker tracker_{flows_, expectations_};
  mutable std::uint16_t next_id_ = 1;
};

TEST_F(ConntrackTracker, HandshakeStatesPerPacket) {
  const PacketConntrack syn = track(client(kSyn));
  EXPECT_EQ(syn.state, CtState::kNew);
  EXPECT_EQ(syn.direction, Direction::kOriginal);
  ASSERT_TRUE(syn.has_flow);
  EXPECT_EQ(syn.flow.tcp_state, TcpState::kSynSent);
  EXPECT_EQ(syn.flow.status & ctstatus::kSeenReply, 0U);
  EXPECT_TRUE(syn.flow.observed);
  EXPECT_EQ(syn.flow.expires, start_ + seconds{120});
  EXPECT_EQ(syn.flow.counters[0].packets, 1U);
  EXPECT_EQ(syn.flow.counters[0].bytes, 40U);

  const PacketConntrack synack = track(server(kSyn | kAck), seconds{1});
  EXPECT_EQ(synack.state, CtState::kEstablished);
  EXPECT_EQ(synack.direction, Direction::kReply);
  EXPECT_EQ(synack.flow.tcp_state, TcpState::kSynRecv);
  EXPECT_NE(synack.flow.status & ctstatus::kSeenReply, 0U);
  EXPECT_EQ(synack.flow.status & ctstatus::kAssured, 0U);
  EXPECT_EQ(synack.flow.expires, start_ + seconds{61});
  EXPECT_EQ(synack.flow.counters[1].packets, 1U);

  const PacketConntrack ack = track(client(kAck, 1001, 5001), seconds{2});
  EXPECT_EQ(ack.state, CtState::kEstablished);
  EXPECT_EQ(ack.direction, Direction::kOriginal);
  EXPECT_EQ(ack.flow.tcp_state, TcpState::kEstablished);
  EXPECT_NE(ack.flow.status & ctstatus::kAssured, 0U);
  EXPECT_EQ(ack.flow.expires, start_ + seconds{2} + std::chrono::hours(5 * 24));
  EXPECT_EQ(ack.flow.counters[0].packets, 2U);
  EXPECT_EQ(ack.flow.counters[0].bytes, 80U);

  // Data both ways stays ESTABLISHED.
  EXPECT_EQ(track(server(kAck | kPsh)).state, CtState::kEstablished);
  EXPECT_EQ(flows_.stats().flows, 1U);
}

TEST_F(ConntrackTracker, ConfirmedFromTheSecondPacketOn) {
  const PacketConntrack syn = track(client(kSyn));
  EXPECT_EQ(syn.flow.status & ctstatus::kConfirmed, 0U) << "the kernel confirms after the hooks";
  const PacketConntrack synack = track(server(kSyn | kAck));
  EXPECT_NE(synack.flow.status & ctstatus::kConfirmed, 0U);
  EXPECT_NE(synack.flow.status & ctstatus::kSeenReply, 0U);
}

TEST_F(ConntrackTracker, RetransmittedSynStaysNewAndKeepsItsTimeout) {
  ASSERT_EQ(track(client(kSyn)).state, CtState::kNew);
  const PacketConntrack again = track(client(kSyn), seconds{3});
  EXPECT_EQ(again.state, CtState::kNew);
  EXPECT_EQ(again.flow.expires, start_ + seconds{120});
  EXPECT_EQ(again.flow.counters[0].packets, 1U);
}

TEST_F(ConntrackTracker, MidStreamPickup) {
  const PacketConntrack first = track(client(kAck | kPsh, 7000, 9000));
  EXPECT_EQ(first.state, CtState::kNew);
  EXPECT_EQ(first.flow.tcp_state, TcpState::kEstablished);
  // Not answered yet: the unacknowledged timeout, not five days.
  EXPECT_EQ(first.flow.expires, start_ + seconds{300});

  const PacketConntrack answer = track(server(kAck, 9000, 7000));
  EXPECT_EQ(answer.state, CtState::kEstablished);
  EXPECT_EQ(answer.flow.status & ctstatus::kAssured, 0U);

  const PacketConntrack next = track(client(kAck, 7000, 9000));
  EXPECT_EQ(next.state, CtState::kEstablished);
  EXPECT_NE(next.flow.status & ctstatus::kAssured, 0U);
  EXPECT_EQ(next.flow.expires, start_ + std::chrono::hours(5 * 24));
}

TEST_F(ConntrackTracker, FirstPacketsThatCannotStartAConnection) {
  for (const std::uint8_t flags : {std::uint8_t{kSyn | kAck}, std::uint8_t{kFin | kAck},
                                   std::uint8_t{kRst}, std::uint8_t{kRst | kAck}}) {
    const PacketConntrack ct = track(client(flags));
    EXPECT_EQ(ct.state, CtState::kInvalid) << int{flags};
    EXPECT_FALSE(ct.has_flow);
  }
  EXPECT_EQ(flows_.stats().flows, 0U);
}

TEST_F(ConntrackTracker, InvalidFlagCombinations) {
  const std::uint8_t invalid[] = {0,                   // NULL
                                  kFin | kPsh | kUrg,  // XMAS
                                  kFin | kSyn | kRst | kPsh | kAck | kUrg,
                                  kSyn | kFin,
                                  kSyn | kRst,
                                  kFin,
                                  kPsh,
                                  kUrg};
  for (const std::uint8_t flags : invalid) {
    EXPECT_EQ(track(client(flags)).state, CtState::kInvalid) << int{flags};
  }
  EXPECT_EQ(flows_.stats().flows, 0U);
  // ECE, CWR and PSH do not matter; URG goes with SYN alone, not SYN/ACK.
  EXPECT_EQ(track(client(kSyn | 0x40 | 0x80)).state, CtState::kNew);
  EXPECT_EQ(track(server(kSyn | kAck | kUrg)).state, CtState::kInvalid);
  EXPECT_EQ(track(server(kSyn | kAck | kPsh)).state, CtState::kEstablished);
}

TEST_F(ConntrackTracker, TruncatedOrMalformedTcpHeader) {
  // 12 bytes of TCP header: ports but no flags.
  const Bytes cut(ipv4(6, kClient, kServer, Bytes(12, 0)));
  EXPECT_EQ(track(cut).state, CtState::kInvalid);
  // Data offset 4 (16 bytes).
  Bytes small = client(kSyn);
  small[32] = 0x40;
  EXPECT_EQ(track(small).state, CtState::kInvalid);
  // Data offset 15 with a 20-byte header.
  Bytes large = client(kSyn);
  large[32] = 0xf0;
  EXPECT_EQ(track(large).state, CtState::kInvalid);
  EXPECT_EQ(flows_.stats().flows, 0U);
}

TEST_F(ConntrackTracker, InvalidPacketOnAFlowIsRecalledInvalid) {
  handshake();
  const Bytes xmas = client(kFin | kPsh | kUrg, 2000, 5001);
  const PacketConntrack ct = track(xmas);
  EXPECT_EQ(ct.state, CtState::kInvalid);
  EXPECT_FALSE(ct.has_flow);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
  EXPECT_EQ(recall(xmas).state, CtState::kInvalid);
  // Other packets of the flow are still recalled as they were tracked.
  const Bytes data = client(kAck | kPsh, 2000, 5001);
  EXPECT_EQ(track(data).state, CtState::kEstablished);
  EXPECT_EQ(recall(data).state, CtState::kEstablished);
}

TEST_F(ConntrackTracker, OutOfStateSegmentIsInvalidAndChangesNothing) {
  ASSERT_EQ(track(client(kSyn)).state, CtState::kNew);
  // The client cannot ACK before the SYN/ACK, nor FIN.
  const Bytes ack = client(kAck, 1001, 5001);
  EXPECT_EQ(track(ack).state, CtState::kInvalid);
  EXPECT_EQ(recall(ack).state, CtState::kInvalid);
  EXPECT_EQ(track(client(kFin | kAck)).state, CtState::kInvalid);
  const Flow flow = *flow_of(ack);
  EXPECT_EQ(flow.tcp_state, TcpState::kSynSent);
  EXPECT_EQ(flow.counters[0].packets, 1U);
  // The SYN itself is still NEW when recalled.
  EXPECT_EQ(recall(client(kSyn)).state, CtState::kNew);
}

TEST_F(ConntrackTracker, IgnoredSegmentKeepsTheState) {
  handshake();
  const Flow before = *flow_of(client(kAck));
  // A SYN inside an established connection: accepted, ignored.
  const PacketConntrack syn = track(client(kSyn, 77777), seconds{5});
  EXPECT_EQ(syn.state, CtState::kEstablished);
  EXPECT_TRUE(syn.has_flow);
  const Flow after = *flow_of(client(kAck));
  EXPECT_EQ(after.tcp_state, TcpState::kEstablished);
  EXPECT_EQ(after.expires, before.expires);
  EXPECT_EQ(after.counters[0].packets, before.counters[0].packets);
}

TEST_F(ConntrackTracker, FinTeardownReachesTimeWait) {
  handshake();
  EXPECT_EQ(track(client(kFin | kAck, 1001, 5001)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kFinWait);
  EXPECT_EQ(track(server(kAck, 5001, 1002)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kCloseWait);
  EXPECT_EQ(track(server(kFin | kAck, 5001, 1002)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kLastAck);
  EXPECT_EQ(expires(), start_ + seconds{30});
  EXPECT_EQ(track(client(kAck, 1002, 5002), seconds{1}).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kTimeWait);
  EXPECT_EQ(expires(), start_ + seconds{121});
}

TEST_F(ConntrackTracker, ChallengeAckIsNotTheLastAck) {
  handshake();
  track(client(kFin | kAck, 1001, 5001));
  track(server(kFin | kAck, 5001, 1002));
  ASSERT_EQ(tcp_state(), TcpState::kLastAck);
  // A SYN in LAST_ACK is ignored; the RFC 5961 challenge ACK it draws from
  // the server does not acknowledge the last FIN.
  EXPECT_EQ(track(client(kSyn, 123)).state, CtState::kEstablished);
  EXPECT_EQ(track(server(kAck, 5002, 1002)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kLastAck);
  EXPECT_EQ(track(client(kAck, 1002, 5002)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kTimeWait);
}

TEST_F(ConntrackTracker, NewSynAfterTimeWaitStartsANewConnection) {
  handshake();
  track(client(kFin | kAck, 1001, 5001));
  track(server(kFin | kAck, 5001, 1002));
  track(client(kAck, 1002, 5002));
  ASSERT_EQ(tcp_state(), TcpState::kTimeWait);
  const PacketConntrack syn = track(client(kSyn, 90000), seconds{10});
  EXPECT_EQ(syn.state, CtState::kNew);
  EXPECT_EQ(syn.flow.tcp_state, TcpState::kSynSent);
  EXPECT_EQ(syn.flow.status & ctstatus::kSeenReply, 0U);
  EXPECT_EQ(syn.flow.counters[0].packets, 1U);
  EXPECT_EQ(syn.flow.counters[1].packets, 0U);
  EXPECT_EQ(recall(client(kSyn, 90000), seconds{10}).state, CtState::kNew);
  EXPECT_EQ(flows_.stats().flows, 1U);
}

TEST_F(ConntrackTracker, ResetClosesTheConnection) {
  handshake();
  EXPECT_EQ(track(server(kRst, 5001), seconds{4}).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kClose);
  EXPECT_EQ(expires(), start_ + seconds{14});
  // The server may not open again from its side.
  EXPECT_EQ(track(server(kSyn, 1), seconds{5}).state, CtState::kInvalid);
  // A SYN from the client is ignored (it was not the client that reset) ...
  EXPECT_EQ(track(client(kSyn, 1), seconds{5}).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kClose);
  // ... until the server's SYN/ACK shows both ends in a new connection.
  EXPECT_EQ(track(server(kSyn | kAck, 1, 2), seconds{5}).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kSynRecv);
  EXPECT_EQ(track(client(kAck, 2, 2), seconds{5}).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
}

TEST_F(ConntrackTracker, SideThatResetMayReopen) {
  handshake();
  EXPECT_EQ(track(client(kRst | kAck, 1001, 5001)).state, CtState::kEstablished);
  const PacketConntrack syn = track(client(kSyn, 3000), seconds{1});
  EXPECT_EQ(syn.state, CtState::kNew);
  EXPECT_EQ(syn.flow.tcp_state, TcpState::kSynSent);
}

TEST_F(ConntrackTracker, ResetAnsweringASynEndsTheConnection) {
  ASSERT_EQ(track(client(kSyn)).state, CtState::kNew);
  const Bytes refused = server(kRst | kAck, 0, 1001);
  const PacketConntrack ct = track(refused);
  EXPECT_EQ(ct.state, CtState::kEstablished);
  EXPECT_EQ(ct.direction, Direction::kReply);
  // The later hooks still see the RST as the tracking hook did.
  EXPECT_EQ(recall(refused).state, CtState::kEstablished);
  // The client's next attempt is a new connection.
  const PacketConntrack retry = track(client(kSyn), seconds{1});
  EXPECT_EQ(retry.state, CtState::kNew);
  EXPECT_EQ(retry.flow.tcp_state, TcpState::kSynSent);
  EXPECT_EQ(retry.flow.counters[1].packets, 0U);
  EXPECT_EQ(flows_.stats().flows, 1U);
}

TEST_F(ConntrackTracker, SimultaneousOpen) {
  ASSERT_EQ(track(client(kSyn)).state, CtState::kNew);
  EXPECT_EQ(track(server(kSyn)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kSynSent2);
  EXPECT_EQ(track(client(kSyn | kAck)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kSynRecv);
  EXPECT_EQ(track(server(kAck)).state, CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
}

TEST_F(ConntrackTracker, ScaledWindowsCarryData) {
  scaled_handshake();
  EXPECT_EQ(
      track(from_client(
                {.flags = kAck | kPsh, .seq = 1001, .ack = 5001, .payload = 1448, .window = 502}))
          .state,
      CtState::kEstablished);
  // Unacknowledged data: five minutes, not five days.
  EXPECT_EQ(expires(), start_ + seconds{300});
  // The server's window, 501 << 7 bytes, lets the client send far beyond
  // 501 bytes; unscaled it would be out of window.
  EXPECT_EQ(track(from_server({.flags = kAck, .seq = 5001, .ack = 2449, .window = 501})).state,
            CtState::kEstablished);
  EXPECT_EQ(expires(), start_ + std::chrono::hours(5 * 24));
  EXPECT_EQ(track(from_client({.flags = kAck | kPsh,
                               .seq = 2449 + 60000,
                               .ack = 5001,
                               .payload = 1000,
                               .window = 502}))
                .state,
            CtState::kEstablished);
  // A SACK of that segment is not an ACK of data never sent.
  EXPECT_EQ(track(from_server({.flags = kAck,
                               .seq = 5001,
                               .ack = 2449,
                               .window = 501,
                               .options = test::sack_option(62449, 63449)}))
                .state,
            CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
}

TEST_F(ConntrackTracker, DataFarOutOfTheWindowIsInvalidAndChangesNothing) {
  scaled_handshake();
  const Flow before = *flow_of(client(kAck));
  const Bytes far = from_client(
      {.flags = kAck | kPsh, .seq = 1001 + 1000000, .ack = 5001, .payload = 100, .window = 502});
  const PacketConntrack ct = track(far, seconds{5});
  EXPECT_EQ(ct.state, CtState::kInvalid);
  EXPECT_FALSE(ct.has_flow);
  EXPECT_EQ(recall(far, seconds{5}).state, CtState::kInvalid);
  const Flow after = *flow_of(client(kAck));
  EXPECT_EQ(after.tcp_state, TcpState::kEstablished);
  EXPECT_EQ(after.expires, before.expires);
  EXPECT_EQ(after.counters[0].packets, before.counters[0].packets);
  EXPECT_EQ(after.tcp_windows[0].end, before.tcp_windows[0].end);
  EXPECT_EQ(after.tcp_windows[0].max_end, before.tcp_windows[0].max_end);
  // The next segment in sequence is fine.
  EXPECT_EQ(
      track(from_client(
                {.flags = kAck | kPsh, .seq = 1001, .ack = 5001, .payload = 100, .window = 502}))
          .state,
      CtState::kEstablished);
}

TEST_F(ConntrackTracker, AckOfDataNeverSentIsInvalid) {
  scaled_handshake();
  EXPECT_EQ(
      track(from_client({.flags = kAck, .seq = 1001, .ack = 5001 + 100000, .window = 502})).state,
      CtState::kInvalid);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
  EXPECT_EQ(track(from_client({.flags = kAck, .seq = 1001, .ack = 5001, .window = 502})).state,
            CtState::kEstablished);
}

TEST_F(ConntrackTracker, RetransmissionsAreAccepted) {
  scaled_handshake();
  const test::Segment data{
      .flags = kAck | kPsh, .seq = 1001, .ack = 5001, .payload = 500, .window = 502};
  ASSERT_EQ(track(from_client(data)).state, CtState::kEstablished);
  ASSERT_EQ(track(from_server({.flags = kAck, .seq = 5001, .ack = 1501, .window = 501})).state,
            CtState::kEstablished);
  // The same data again, though acknowledged: still within the window.
  EXPECT_EQ(track(from_client(data)).state, CtState::kEstablished);
  // Once the client is more than the server's largest window further on,
  // that data is ignored, not INVALID.
  for (std::uint32_t sent = 1501; sent < 100000; sent += 40000) {
    ASSERT_EQ(
        track(
            from_client(
                {.flags = kAck | kPsh, .seq = sent, .ack = 5001, .payload = 40000, .window = 502}))
            .state,
        CtState::kEstablished);
    ASSERT_EQ(
        track(from_server({.flags = kAck, .seq = 5001, .ack = sent + 40000, .window = 501})).state,
        CtState::kEstablished);
  }
  const std::uint64_t packets = flow_of(client(kAck))->counters[0].packets;
  EXPECT_EQ(track(from_client(data)).state, CtState::kEstablished);
  EXPECT_EQ(flow_of(client(kAck))->counters[0].packets, packets);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
}

TEST_F(ConntrackTracker, RepeatedRetransmissionsShortenTheTimeout) {
  scaled_handshake();
  const test::Segment data{
      .flags = kAck | kPsh, .seq = 1001, .ack = 5001, .payload = 100, .window = 502};
  ASSERT_EQ(track(from_client(data)).state, CtState::kEstablished);
  ASSERT_EQ(track(from_server({.flags = kAck, .seq = 5001, .ack = 1101, .window = 501})).state,
            CtState::kEstablished);
  EXPECT_EQ(expires(), start_ + std::chrono::hours(5 * 24));
  const test::Segment probe{.flags = kAck, .seq = 1101, .ack = 5001, .window = 502};
  for (int again = 0; again < 3; ++again) {
    ASSERT_EQ(track(from_client(probe)).state, CtState::kEstablished);
    EXPECT_EQ(expires(), start_ + std::chrono::hours(5 * 24)) << again;
  }
  ASSERT_EQ(track(from_client(probe)).state, CtState::kEstablished);
  EXPECT_EQ(expires(), start_ + seconds{300});
}

TEST_F(ConntrackTracker, ResetOutOfTheWindowIsInvalid) {
  scaled_handshake();
  // Far beyond the window, or below what the client already acknowledged.
  for (const std::uint32_t seq : {5001U + 10000000U, 4000U}) {
    const Bytes reset = from_server({.flags = kRst, .seq = seq});
    EXPECT_EQ(track(reset).state, CtState::kInvalid) << seq;
    EXPECT_EQ(recall(reset).state, CtState::kInvalid) << seq;
    EXPECT_EQ(tcp_state(), TcpState::kEstablished) << seq;
  }
  // In the window, not at the expected sequence number: the state stays for
  // the challenge ACK, the timeout is the RST's.
  EXPECT_EQ(track(from_server({.flags = kRst, .seq = 5101}), seconds{2}).state,
            CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
  EXPECT_EQ(expires(), start_ + seconds{12});
  // Exactly where expected: the connection closes.
  EXPECT_EQ(track(from_server({.flags = kRst, .seq = 5001}), seconds{3}).state,
            CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kClose);
  EXPECT_EQ(expires(), start_ + seconds{13});
}

TEST_F(ConntrackTracker, FinOutOfTheWindowIsInvalid) {
  scaled_handshake();
  EXPECT_EQ(track(from_client({.flags = kFin | kAck, .seq = 1001 + 5000000, .ack = 5001})).state,
            CtState::kInvalid);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
  EXPECT_EQ(track(from_client({.flags = kFin | kAck, .seq = 1001, .ack = 5001})).state,
            CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kFinWait);
}

TEST_F(ConntrackTracker, MidStreamPickupIsLiberal) {
  const Bytes first = from_client(
      {.flags = kAck | kPsh, .seq = 70000, .ack = 90000, .payload = 100, .window = 502});
  EXPECT_EQ(track(first).state, CtState::kNew);
  EXPECT_EQ(
      track(from_server(
                {.flags = kAck | kPsh, .seq = 90000, .ack = 70100, .payload = 1000, .window = 501}))
          .state,
      CtState::kEstablished);
  EXPECT_EQ(track(from_client({.flags = kAck, .seq = 70100, .ack = 91000, .window = 502})).state,
            CtState::kEstablished);
  // The window scale was never seen: the kernel accepts what it cannot judge.
  EXPECT_EQ(track(from_client({.flags = kAck | kPsh,
                               .seq = 70100 + 1000000,
                               .ack = 91000,
                               .payload = 100,
                               .window = 502}))
                .state,
            CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
}

TEST_F(ConntrackTracker, KernelFlowIsNeverInvalidByItsWindow) {
  Flow known;
  known.original = *packet_tuple(PacketView::parse(client(kSyn)));
  known.reply = *reply_tuple(known.original);
  known.status = ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed;
  known.tcp_state = TcpState::kEstablished;
  known.kernel_id = 11;
  known.expires = start_ + seconds{1000};
  flows_.merge_kernel(known, start_);
  const std::uint32_t client_seq = 3000000000U;
  const std::uint32_t server_seq = 123456;
  const auto data = [&](bool from_the_client, std::uint32_t seq, std::uint32_t ack) {
    const test::Segment segment{
        .flags = kAck | kPsh, .seq = seq, .ack = ack, .payload = 1000, .window = 300};
    return track(from_the_client ? from_client(segment) : from_server(segment)).state;
  };
  EXPECT_EQ(data(true, client_seq, server_seq), CtState::kEstablished);
  EXPECT_EQ(data(false, server_seq, client_seq + 1000), CtState::kEstablished);
  // Beyond windows worked out without the scales the kernel knows.
  EXPECT_EQ(data(true, client_seq + 200000, server_seq + 1000), CtState::kEstablished);
  EXPECT_EQ(data(false, server_seq + 5000000, client_seq + 1000), CtState::kEstablished);
  EXPECT_EQ(tcp_state(), TcpState::kEstablished);
}

TEST_F(ConntrackTracker, UdpRequestResponseAndStream) {
  const Bytes request = ipv4(17, kClient, kServer, udp_header(5000, 53, 10));
  const Bytes response = ipv4(17, kServer, kClient, udp_header(53, 5000, 30));
  const PacketConntrack first = track(request);
  EXPECT_EQ(first.state, CtState::kNew);
  EXPECT_EQ(first.flow.expires, start_ + seconds{30});
  const PacketConntrack answer = track(response, seconds{1});
  EXPECT_EQ(answer.state, CtState::kEstablished);
  EXPECT_EQ(answer.direction, Direction::kReply);
  EXPECT_EQ(answer.flow.status & ctstatus::kAssured, 0U);
  EXPECT_EQ(answer.flow.expires, start_ + seconds{31});
  EXPECT_EQ(answer.flow.counters[1].bytes, 58U);
  // Answered, but within two seconds of the start: no stream yet.
  EXPECT_EQ(track(request, seconds{2}).flow.status & ctstatus::kAssured, 0U);
  const PacketConntrack stream = track(request, seconds{3});
  EXPECT_EQ(stream.state, CtState::kEstablished);
  EXPECT_NE(stream.flow.status & ctstatus::kAssured, 0U);
  EXPECT_EQ(stream.flow.expires, start_ + seconds{123});
  EXPECT_EQ(stream.flow.counters[0].packets, 3U);
}

TEST_F(ConntrackTracker, UdpFlowExpires) {
  const Bytes request = ipv4(17, kClient, kServer, udp_header(5000, 53));
  EXPECT_EQ(track(request).state, CtState::kNew);
  EXPECT_EQ(track(request, seconds{29}).state, CtState::kNew);
  // 30 s after the last packet the flow is gone; the same packet starts anew.
  const PacketConntrack later = track(request, seconds{59});
  EXPECT_EQ(later.state, CtState::kNew);
  EXPECT_EQ(later.flow.counters[0].packets, 1U);
}

TEST_F(ConntrackTracker, MalformedUdpIsInvalid) {
  Bytes wrong_length = ipv4(17, kClient, kServer, udp_header(5000, 53));
  test::put16(wrong_length, 24, 100);  // longer than the packet
  EXPECT_EQ(track(wrong_length).state, CtState::kInvalid);
  const Bytes short_header = ipv4(17, kClient, kServer, Bytes{0x13, 0x88, 0, 53, 0});
  EXPECT_EQ(track(short_header).state, CtState::kInvalid);
  EXPECT_EQ(flows_.stats().flows, 0U);
}

TEST_F(ConntrackTracker, IcmpEcho) {
  const Bytes request = ipv4(1, kClient, kServer, icmp_message(8, 0, 7));
  const Bytes reply = ipv4(1, kServer, kClient, icmp_message(0, 0, 7));
  const PacketConntrack asked = track(request);
  EXPECT_EQ(asked.state, CtState::kNew);
  EXPECT_EQ(asked.flow.expires, start_ + seconds{30});
  const PacketConntrack answered = track(reply);
  EXPECT_EQ(answered.state, CtState::kEstablished);
  EXPECT_EQ(answered.direction, Direction::kReply);
  // Another id is another connection; an answer nobody asked for is INVALID.
  EXPECT_EQ(track(ipv4(1, kClient, kServer, icmp_message(8, 0, 8))).state, CtState::kNew);
  EXPECT_EQ(track(ipv4(1, kServer, kClient, icmp_message(0, 0, 9))).state, CtState::kInvalid);
  // Types that are no query start nothing; unknown types are INVALID.
  EXPECT_EQ(track(ipv4(1, kServer, kClient, icmp_message(9, 0, 0))).state, CtState::kInvalid);
  EXPECT_EQ(track(ipv4(1, kServer, kClient, icmp_message(40, 0, 0))).state, CtState::kInvalid);
  EXPECT_EQ(track(ipv4(1, kServer, kClient, Bytes{8, 0, 0, 0})).state, CtState::kInvalid);
  EXPECT_EQ(flows_.stats().flows, 2U);
}

TEST_F(ConntrackTracker, IcmpErrorRelatedToATrackedFlow) {
  const Bytes request = ipv4(17, kClient, kServer, udp_header(5000, 53, 4));
  ASSERT_EQ(track(request).state, CtState::kNew);
  const Bytes unreachable = ipv4(1, kServer, kClient, icmp_message(3, 3, 0, quote(request, 20)));
  const PacketConntrack ct = track(unreachable);
  EXPECT_EQ(ct.state, CtState::kRelated);
  EXPECT_EQ(ct.direction, Direction::kReply);
  ASSERT_TRUE(ct.has_flow);
  EXPECT_EQ(ct.flow.original, *packet_tuple(PacketView::parse(request)));
  EXPECT_EQ(recall(unreachable).state, CtState::kRelated);
  // Errors neither create flows nor count.
  EXPECT_EQ(flows_.stats().flows, 1U);
  EXPECT_EQ(flow_of(request)->counters[1].packets, 0U);
  // The error must go back to the quoted packet's sender.
  const Bytes astray = ipv4(1, kServer, "10.0.3.3", icmp_message(3, 3, 0, quote(request, 20)));
  EXPECT_EQ(track(astray).state, CtState::kInvalid);
  // From a router on the way, in the original direction of a reply's error.
  const Bytes answer = ipv4(17, kServer, kClient, udp_header(53, 5000));
  const Bytes exceeded = ipv4(1, "10.0.9.9", kServer, icmp_message(11, 0, 0, quote(answer, 20)));
  const PacketConntrack original = track(exceeded);
  EXPECT_EQ(original.state, CtState::kRelated);
  EXPECT_EQ(original.direction, Direction::kOriginal);
}

TEST_F(ConntrackTracker, IcmpErrorForNoFlowIsInvalid) {
  const Bytes request = ipv4(17, kClient, kServer, udp_header(5000, 53));
  const Bytes unreachable = ipv4(1, kServer, kClient, icmp_message(3, 3, 0, quote(request, 20)));
  EXPECT_EQ(track(unreachable).state, CtState::kInvalid);
  EXPECT_EQ(recall(unreachable).state, CtState::kInvalid);
  // A quote cut short is INVALID too.
  ASSERT_EQ(track(request).state, CtState::kNew);
  const Bytes cut = ipv4(1, kServer, kClient,
                         icmp_message(3, 3, 0, Bytes(request.begin(), request.begin() + 10)));
  EXPECT_EQ(track(cut).state, CtState::kInvalid);
  EXPECT_EQ(flows_.stats().flows, 1U);
}

TEST_F(ConntrackTracker, IcmpErrorAboutAnEcho) {
  const Bytes ping = ipv4(1, kClient, kServer, icmp_message(8, 0, 3));
  ASSERT_EQ(track(ping).state, CtState::kNew);
  const Bytes exceeded = ipv4(1, "10.0.9.9", kClient, icmp_message(11, 0, 0, quote(ping, 20)));
  EXPECT_EQ(track(exceeded).state, CtState::kRelated);
}

TEST_F(ConntrackTracker, Ipv6TcpHandshakeAndTeardown) {
  const auto segment = [](const char* from, const char* to, std::uint16_t sport,
                          std::uint16_t dport, std::uint8_t flags) {
    return ipv6(6, from, to, tcp_header({.sport = sport, .dport = dport, .flags = flags}));
  };
  EXPECT_EQ(track(segment(kClient6, kServer6, 40000, 443, kSyn)).state, CtState::kNew);
  EXPECT_EQ(track(segment(kServer6, kClient6, 443, 40000, kSyn | kAck)).state,
            CtState::kEstablished);
  const PacketConntrack ack = track(segment(kClient6, kServer6, 40000, 443, kAck));
  EXPECT_EQ(ack.state, CtState::kEstablished);
  EXPECT_EQ(ack.flow.tcp_state, TcpState::kEstablished);
  EXPECT_NE(ack.flow.status & ctstatus::kAssured, 0U);
  EXPECT_EQ(ack.flow.counters[0].bytes, 120U);
  EXPECT_EQ(track(segment(kServer6, kClient6, 443, 40000, kRst)).state, CtState::kEstablished);
  EXPECT_EQ(track(segment(kClient6, kServer6, 1, 2, kFin | kAck)).state, CtState::kInvalid);
}

TEST_F(ConntrackTracker, Ipv6EchoAndErrors) {
  const Bytes request = ipv6(58, kClient6, kServer6, icmp_message(128, 0, 5));
  const Bytes reply = ipv6(58, kServer6, kClient6, icmp_message(129, 0, 5));
  EXPECT_EQ(track(request).state, CtState::kNew);
  EXPECT_EQ(track(reply).state, CtState::kEstablished);
  EXPECT_EQ(track(ipv6(58, kServer6, kClient6, icmp_message(129, 0, 6))).state, CtState::kInvalid);

  const Bytes datagram = test::ipv6_udp_packet(kClient6, kServer6, 5000, 53);
  ASSERT_EQ(track(datagram).state, CtState::kNew);
  const Bytes unreachable =
      ipv6(58, kServer6, kClient6, icmp_message(1, 4, 0, quote(datagram, 40)));
  const PacketConntrack ct = track(unreachable);
  EXPECT_EQ(ct.state, CtState::kRelated);
  EXPECT_EQ(ct.direction, Direction::kReply);
  const Bytes too_big = ipv6(58, kServer6, kClient6, icmp_message(2, 0, 0, quote(datagram, 40)));
  EXPECT_EQ(track(too_big).state, CtState::kRelated);
  const Bytes stranger = test::ipv6_udp_packet(kClient6, kServer6, 5001, 53);
  const Bytes unrelated = ipv6(58, kServer6, kClient6, icmp_message(1, 4, 0, quote(stranger, 40)));
  EXPECT_EQ(track(unrelated).state, CtState::kInvalid);
  EXPECT_EQ(flows_.stats().flows, 2U);
}

TEST_F(ConntrackTracker, NeighbourDiscoveryAndMldAreUntracked) {
  for (const std::uint8_t type : {130, 131, 132, 133, 134, 135, 136, 143}) {
    const Bytes message = ipv6(58, "fe80::1", "ff02::1", icmp_message(type, 0, 0, Bytes(16, 0)));
    EXPECT_EQ(track(message).state, CtState::kUntracked) << int{type};
    EXPECT_EQ(recall(message).state, CtState::kUntracked) << int{type};
  }
  // Redirect (137) is tracked, and as no query INVALID.
  EXPECT_EQ(track(ipv6(58, "fe80::1", "fe80::2", icmp_message(137, 0, 0))).state,
            CtState::kInvalid);
  EXPECT_EQ(flows_.stats().flows, 0U);
}

TEST_F(ConntrackTracker, NotrackIsUntracked) {
  PacketConntrack ct;
  ct.now = start_;
  ct.notrack = true;
  const Bytes syn = client(kSyn);
  tracker_.track(PacketView::parse(syn), ct);
  EXPECT_EQ(ct.state, CtState::kUntracked);
  EXPECT_FALSE(ct.has_flow);
  tracker_.recall(PacketView::parse(syn), ct);
  EXPECT_EQ(ct.state, CtState::kUntracked);
  EXPECT_EQ(flows_.stats().flows, 0U);
}

TEST_F(ConntrackTracker, NoNetworkHeaderIsInvalid) {
  EXPECT_EQ(track(Bytes{0x45, 0, 0, 20}).state, CtState::kInvalid);
  EXPECT_EQ(recall(Bytes{}).state, CtState::kInvalid);
}

TEST_F(ConntrackTracker, GenericProtocolsGetTenMinutes) {
  const Bytes gre = ipv4(47, kClient, kServer, Bytes(8, 0));
  const PacketConntrack first = track(gre);
  EXPECT_EQ(first.state, CtState::kNew);
  EXPECT_EQ(first.flow.expires, start_ + seconds{600});
  EXPECT_EQ(track(ipv4(47, kServer, kClient, Bytes(8, 0))).state, CtState::kEstablished);
}

TEST_F(ConntrackTracker, ExpectedConnectionIsRelated) {
  // The FTP helper expects kServer:20 -> kClient:50000, from any source port.
  const Tuple expected{.family = Family::kIPv4,
                       .protocol = 6,
                       .source = *IpAddress::parse(kServer),
                       .destination = *IpAddress::parse(kClient),
                       .source_port = 0,
                       .destination_port = 50000};
  const Tuple mask{.family = Family::kIPv4,
                   .protocol = 6,
                   .source = *IpAddress::parse("255.255.255.255"),
                   .destination = *IpAddress::parse("255.255.255.255"),
                   .destination_port = 0xffff};
  const Tuple master = *packet_tuple(PacketView::parse(client(kSyn)));
  expectations_.add({.kernel_id = 1,
                     .tuple = expected,
                     .mask = mask,
                     .master = master,
                     .expires = start_ + seconds{300},
                     .helper = {'f', 't', 'p'}});
  const Bytes syn =
      ipv4(6, kServer, kClient, tcp_header({.sport = 20, .dport = 50000, .flags = kSyn}));
  const PacketConntrack ct = track(syn);
  EXPECT_EQ(ct.state, CtState::kRelated);
  EXPECT_NE(ct.flow.status & ctstatus::kExpected, 0U);
  // The expected connection keeps the name of the helper that expected it.
  EXPECT_EQ(std::string_view(ct.flow.helper.data()), "ftp");
  EXPECT_EQ(recall(syn).state, CtState::kRelated);
  EXPECT_EQ(expectations_.size(), 0U);
  const Bytes synack =
      ipv4(6, kClient, kServer, tcp_header({.sport = 50000, .dport = 20, .flags = kSyn | kAck}));
  EXPECT_EQ(track(synack).state, CtState::kEstablished);
  EXPECT_EQ(
      track(ipv4(6, kServer, kClient, tcp_header({.sport = 20, .dport = 50000, .flags = kAck})))
          .state,
      CtState::kEstablished);
  // Without the expectation the next one is an ordinary NEW connection.
  EXPECT_EQ(
      track(ipv4(6, kServer, kClient, tcp_header({.sport = 21, .dport = 50000, .flags = kSyn})))
          .state,
      CtState::kNew);
}

TEST_F(ConntrackTracker, RecallAgreesWithTrack) {
  const std::vector<Bytes> packets = {client(kSyn),
                                      server(kSyn | kAck),
                                      client(kAck, 1001, 5001),
                                      client(kSyn | kFin),
                                      server(kAck | kPsh, 5001, 1001),
                                      client(kFin | kAck, 1001, 5001)};
  for (const Bytes& packet : packets) {
    const PacketConntrack tracked = track(packet);
    const PacketConntrack recalled = recall(packet);
    EXPECT_EQ(recalled.state, tracked.state);
    EXPECT_EQ(recalled.has_flow, tracked.has_flow);
    if (tracked.has_flow) {
      EXPECT_EQ(recalled.direction, tracked.direction);
    }
  }
  // A packet no hook tracked is INVALID when recalled.
  EXPECT_EQ(recall(ipv4(17, kClient, kServer, udp_header(1, 2))).state, CtState::kInvalid);
}

TEST_F(ConntrackTracker, DroppedFirstPacketTakesItsFlow) {
  const PacketConntrack syn = track(client(kSyn));
  ASSERT_EQ(flows_.stats().flows, 1U);
  tracker_.dropped(syn);
  EXPECT_EQ(flows_.stats().flows, 0U);
  // A dropped answer or an invalid packet removes nothing.
  handshake();
  tracker_.dropped(track(server(kAck)));
  tracker_.dropped(track(client(0)));
  EXPECT_EQ(flows_.stats().flows, 1U);
}

TEST_F(ConntrackTracker, DroppedPacketOfAConfirmedFlowKeepsIt) {
  const PacketConntrack syn = track(client(kSyn));
  Flow confirmed = syn.flow;
  confirmed.kernel_id = 42;
  flows_.merge_kernel(confirmed, start_);
  const PacketConntrack again = track(client(kSyn));
  EXPECT_EQ(again.state, CtState::kNew);
  tracker_.dropped(again);
  EXPECT_EQ(flows_.stats().flows, 1U);
}

TEST_F(ConntrackTracker, FullTableRefusesNewFlows) {
  FlowTable small(1);
  Tracker tracker(small, expectations_);
  const Bytes request = ipv4(17, kClient, kServer, udp_header(5000, 53));
  const Bytes response = ipv4(17, kServer, kClient, udp_header(53, 5000));
  const auto run = [&](const Bytes& bytes, seconds at) {
    PacketConntrack ct;
    ct.now = start_ + at;
    tracker.track(PacketView::parse(bytes), ct);
    return ct;
  };
  run(request, seconds{0});
  run(response, seconds{1});
  ASSERT_NE(run(request, seconds{3}).flow.status & ctstatus::kAssured, 0U);
  // The only flow is assured: nothing to evict.
  const PacketConntrack refused = run(ipv4(17, kClient, kServer, udp_header(5001, 53)), seconds{4});
  EXPECT_EQ(refused.state, CtState::kInvalid);
  EXPECT_FALSE(refused.has_flow);
  EXPECT_EQ(small.stats().refused, 1U);
}

TEST_F(ConntrackTracker, KernelIsAskedOnAMiss) {
  // Whether the kernel is to be asked before the packet is tracked.
  const auto unknown = [&](const Bytes& bytes) {
    PacketConntrack ct;
    ct.now = start_;
    const auto question = tracker_.question(PacketView::parse(bytes), ct);
    return question && question->unknown;
  };
  // The kernel has an established connection the table has not heard of.
  const Bytes ack = server(kAck | kPsh, 5000, 1000);
  const auto question = tracker_.question(PacketView::parse(ack), PacketConntrack{});
  ASSERT_TRUE(question);
  EXPECT_TRUE(question->unknown);
  EXPECT_EQ(question->connection, *packet_tuple(PacketView::parse(ack)));
  Flow known;
  known.original = *packet_tuple(PacketView::parse(client(kSyn)));
  known.reply = *reply_tuple(known.original);
  known.status = ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed;
  known.tcp_state = TcpState::kEstablished;
  known.kernel_id = 7;
  known.created = start_;
  known.expires = start_ + seconds{1000};
  // Its answer, merged as the mirror merges it: the packet continues it.
  flows_.merge_kernel(known, start_);
  EXPECT_FALSE(unknown(ack));
  const PacketConntrack ct = track(ack);
  EXPECT_EQ(ct.state, CtState::kEstablished);
  EXPECT_EQ(ct.direction, Direction::kReply);
  EXPECT_TRUE(ct.flow.observed);
  EXPECT_EQ(ct.flow.kernel_id, 7U);
  EXPECT_EQ(ct.flow.tcp_state, TcpState::kEstablished);
  // Found in the table now: the kernel is not asked again.
  EXPECT_FALSE(unknown(client(kAck)));

  // What starts a connection is not asked about.
  EXPECT_FALSE(
      unknown(ipv4(6, kClient, kServer, tcp_header({.sport = 40001, .dport = 22, .flags = kSyn}))));
  EXPECT_FALSE(unknown(ipv4(1, kClient, kServer, icmp_message(8, 0, 1))));
  // Anything else missing is; the kernel not knowing it either makes it a
  // pickup (TCP) or INVALID (an unsolicited echo reply).
  const Bytes pickup =
      ipv4(6, kClient, kServer, tcp_header({.sport = 40002, .dport = 22, .flags = kAck}));
  const Bytes echo_reply = ipv4(1, kServer, kClient, icmp_message(0, 0, 9));
  const Bytes datagram = ipv4(17, kClient, kServer, udp_header(1, 2));
  EXPECT_TRUE(unknown(pickup));
  EXPECT_TRUE(unknown(echo_reply));
  EXPECT_TRUE(unknown(datagram));
  EXPECT_EQ(track(pickup).state, CtState::kNew);
  EXPECT_EQ(track(echo_reply).state, CtState::kInvalid);
  EXPECT_EQ(track(datagram).state, CtState::kNew);
  // An ICMP error asks about the connection it quotes.
  const Bytes quoted = ipv4(17, kClient, kServer, udp_header(7, 8));
  const Bytes error = ipv4(1, kServer, kClient, icmp_message(3, 3, 0, quote(quoted, 20)));
  const auto about = tracker_.question(PacketView::parse(error), PacketConntrack{});
  ASSERT_TRUE(about);
  EXPECT_TRUE(about->unknown);
  EXPECT_EQ(about->connection, *reply_tuple(*packet_tuple(PacketView::parse(quoted))));
}

TEST_F(ConntrackTracker, KernelFlowContinuesFromTheKernelsState) {
  Flow known;
  known.original = *packet_tuple(PacketView::parse(client(kSyn)));
  known.reply = *reply_tuple(known.original);
  known.status = ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed;
  known.tcp_state = TcpState::kTimeWait;
  known.kernel_id = 9;
  known.expires = start_ + seconds{100};
  flows_.merge_kernel(known, start_);
  // TIME_WAIT came through FIN_WAIT: a new SYN reopens.
  const PacketConntrack syn = track(client(kSyn));
  EXPECT_EQ(syn.state, CtState::kNew);
  EXPECT_EQ(syn.flow.tcp_state, TcpState::kSynSent);
  EXPECT_EQ(syn.flow.kernel_id, 0U);
}

}  // namespace
}  // namespace verdictd
