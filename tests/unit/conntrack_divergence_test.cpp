// Divergences between the kernel's conntrack and the tracker: the kernel is
// played by a second tracker over a table of its own, which sees the same
// packets (or, to make it disagree, more of them); its events reach our table
// ahead of our tracker or behind it. A moment's disagreement counts nothing,
// a lasting one counts once. And the flags an observed flow shows are ours.
#include <gtest/gtest.h>

#include <chrono>

#include "conntrack/divergence.hpp"
#include "conntrack/flow_listing.hpp"
#include "conntrack/tracker.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using std::chrono::milliseconds;
using test::Bytes;
using test::ipv4;
using test::tcp_header;
using test::udp_header;

using tcpflag::kAck;
using tcpflag::kFin;
using tcpflag::kPsh;
using tcpflag::kRst;
using tcpflag::kSyn;

constexpr const char* kClient = "10.0.1.2";
constexpr const char* kServer = "10.0.2.2";
constexpr std::uint32_t kKernelId = 5;

class ConntrackDivergence : public ::testing::Test {
 protected:
  // A segment between kClient:40000 and kServer:22, each with its own IP id.
  Bytes client(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack = 0) {
    return ipv4(6, kClient, kServer,
                tcp_header({.sport = 40000, .dport = 22, .flags = flags, .seq = seq, .ack = ack}),
                next_id_++);
  }
  Bytes server(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) {
    return ipv4(6, kServer, kClient,
                tcp_header({.sport = 22, .dport = 40000, .flags = flags, .seq = seq, .ack = ack}),
                next_id_++);
  }

  [[nodiscard]] ConntrackTime at(milliseconds offset) const { return start_ + offset; }

  // Our tracker's turn with the packet.
  void ours(const Bytes& packet, milliseconds offset) {
    PacketConntrack ct;
    ct.now = at(offset);
    tracker_.track(PacketView::parse(packet), ct);
  }

  // The kernel's turn: it tracks the packet.
  void kernels(const Bytes& packet, milliseconds offset) {
    PacketConntrack ct;
    ct.now = at(offset);
    kernel_tracker_.track(PacketView::parse(packet), ct);
  }

  // The kernel's event about the connection of `packet`, as the kernel's
  // table has it, reaching the mirror. Like ctnetlink, it carries the TCP
  // state only when that changed since the last event.
  void event(const Bytes& packet, milliseconds offset) {
    const auto found = kernel_flows_.copy(*packet_tuple(PacketView::parse(packet)), at(offset));
    ASSERT_TRUE(found);
    Flow kernel = found->flow;
    kernel.observed = false;
    kernel.kernel_id = kKernelId;
    kernel.status |= ctstatus::kConfirmed;
    const TcpState state = kernel.tcp_state;
    if (state == last_reported_) kernel.tcp_state = TcpState::kNone;
    last_reported_ = state;
    flows_.merge_kernel(kernel, at(offset));
  }

  // Both see the packet: the kernel's event comes ahead of our tracker, or
  // behind it.
  void both(const Bytes& packet, milliseconds offset, bool event_ahead) {
    kernels(packet, offset);
    if (event_ahead) event(packet, offset);
    ours(packet, offset + milliseconds(1));
    if (!event_ahead) event(packet, offset + milliseconds(2));
  }

  std::size_t lasting(milliseconds offset) {
    return flows_.count_lasting_divergences(at(offset)).size();
  }

  [[nodiscard]] Flow our_flow(const Bytes& packet, milliseconds offset) const {
    return flows_.copy(*packet_tuple(PacketView::parse(packet)), at(offset))->flow;
  }

  ConntrackTime start_ = ConntrackTime{} + std::chrono::hours(1);
  FlowTable flows_;
  FlowTable kernel_flows_;
  Expectations expectations_;
  Expectations kernel_expectations_;
  Tracker tracker_{flows_, expectations_};
  Tracker kernel_tracker_{kernel_flows_, kernel_expectations_};
  TcpState last_reported_ = TcpState::kNone;
  std::uint16_t next_id_ = 1;
};

TEST_F(ConntrackDivergence, EventsAheadOrBehindTheTrackerCountNothing) {
  // A connection from handshake to TIME_WAIT, the events alternately ahead
  // and behind; then the same ports again, reset.
  const std::vector<Bytes> packets = {
      client(kSyn, 1000),
      server(kSyn | kAck, 5000, 1001),
      client(kAck, 1001, 5001),
      client(kAck | kPsh, 1001, 5001),
      server(kAck, 5001, 1002),
      client(kFin | kAck, 1002, 5001),
      server(kFin | kAck, 5001, 1003),
      client(kAck, 1003, 5002),
  };
  milliseconds offset{0};
  for (std::size_t i = 0; i < packets.size(); ++i) {
    // The first packet's event comes only after it left its last hook.
    both(packets[i], offset, i % 2 == 1);
    EXPECT_EQ(lasting(offset + milliseconds(10)), 0U) << i;
    offset += milliseconds(300);
  }
  EXPECT_EQ(our_flow(packets[0], offset).tcp_state, TcpState::kTimeWait);
  offset += milliseconds(2000);
  for (const Bytes& packet : {client(kSyn, 90000), server(kSyn | kAck, 7000, 90001),
                              client(kAck, 90001, 7001), server(kRst | kAck, 7001, 90001)}) {
    both(packet, offset, true);
    offset += milliseconds(300);
  }
  EXPECT_EQ(our_flow(packets[0], offset).tcp_state, TcpState::kClose);
  EXPECT_EQ(lasting(offset + milliseconds(5000)), 0U);
  EXPECT_EQ(flows_.stats().divergences, 0U);
}

TEST_F(ConntrackDivergence, KernelAheadCaughtUpWithinTheGrace) {
  const Bytes syn = client(kSyn, 1000);
  const Bytes synack = server(kSyn | kAck, 5000, 1001);
  both(syn, milliseconds(0), false);
  // The kernel has tracked the SYN-ACK and said so; our queue is slow.
  kernels(synack, milliseconds(100));
  event(synack, milliseconds(100));
  EXPECT_EQ(lasting(milliseconds(900)), 0U);
  ours(synack, milliseconds(1000));
  EXPECT_EQ(lasting(milliseconds(1200)), 0U);
  EXPECT_EQ(lasting(milliseconds(5000)), 0U);
  EXPECT_EQ(flows_.stats().divergences, 0U);
}

TEST_F(ConntrackDivergence, LastingDisagreementIsCountedOnce) {
  const Bytes syn = client(kSyn, 1000);
  const Bytes synack = server(kSyn | kAck, 5000, 1001);
  const Bytes ack = client(kAck, 1001, 5001);
  both(syn, milliseconds(0), false);
  // The SYN-ACK goes out where no queue is: only the kernel tracks it.
  kernels(synack, milliseconds(10));
  event(synack, milliseconds(10));
  both(ack, milliseconds(20), false);
  EXPECT_EQ(lasting(milliseconds(900)), 0U) << "still within the grace";
  const auto counted = flows_.count_lasting_divergences(at(milliseconds(1100)));
  ASSERT_EQ(counted.size(), 1U);
  EXPECT_EQ(divergence_text(counted[0]),
            "tcp src=10.0.1.2 dst=10.0.2.2 sport=40000 dport=22: verdictd SYN_SENT (no "
            "SEEN_REPLY, no ASSURED), kernel ESTABLISHED (SEEN_REPLY, ASSURED)");
  EXPECT_EQ(flows_.stats().divergences, 1U);
  // Once per flow: more disagreeing events and checks add nothing.
  both(client(kAck | kPsh, 1001, 5001), milliseconds(1500), true);
  EXPECT_EQ(lasting(milliseconds(5000)), 0U);
  EXPECT_EQ(flows_.stats().divergences, 1U);
}

TEST_F(ConntrackDivergence, UnansweredToUsButNotToTheKernelIsADivergence) {
  const Bytes request = ipv4(17, kClient, kServer, udp_header(5000, 53));
  const Bytes response = ipv4(17, kServer, kClient, udp_header(53, 5000));
  both(request, milliseconds(0), false);
  kernels(response, milliseconds(10));
  event(response, milliseconds(10));
  EXPECT_EQ(lasting(milliseconds(2000)), 1U);
}

TEST_F(ConntrackDivergence, ObservedFlowShowsItsOwnFlags) {
  const Bytes syn = client(kSyn, 1000);
  ours(syn, milliseconds(0));
  Flow kernel = our_flow(syn, milliseconds(0));
  kernel.observed = false;
  kernel.tcp_state = TcpState::kEstablished;
  constexpr std::uint32_t kHelper = 1U << 13;  // IPS_HELPER: only the kernel knows
  kernel.status = ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed |
                  ctstatus::kExpected | kHelper;
  kernel.kernel_id = kKernelId;
  flows_.merge_kernel(kernel, at(milliseconds(5)));
  const Flow merged = our_flow(syn, milliseconds(5));
  EXPECT_EQ(merged.status, ctstatus::kConfirmed | ctstatus::kExpected | kHelper);
  EXPECT_EQ(merged.kernel_id, kKernelId);
  const std::string line = flow_line(merged, at(milliseconds(5)));
  EXPECT_NE(line.find(" SYN_SENT "), std::string::npos) << line;
  EXPECT_NE(line.find("[UNREPLIED]"), std::string::npos) << line;
  EXPECT_EQ(line.find("[ASSURED]"), std::string::npos) << line;
}

TEST_F(ConntrackDivergence, StatusOnlyEventKeepsTheStateLastReported) {
  // Picked up mid-stream: the answer sets SEEN_REPLY without a state change,
  // so its event carries no TCP state.
  const Bytes first = client(kAck | kPsh, 7000, 9000);
  const Bytes answer = server(kAck, 9000, 7000);
  both(first, milliseconds(0), false);
  both(answer, milliseconds(100), true);
  EXPECT_EQ(our_flow(first, milliseconds(200)).kernel_view.tcp_state, TcpState::kEstablished);
  EXPECT_EQ(lasting(milliseconds(5000)), 0U);

  // A flow known only from the kernel keeps its state too.
  Flow adopted = our_flow(first, milliseconds(200));
  adopted.original.source_port = adopted.reply.destination_port = 41000;
  adopted.observed = false;
  adopted.tcp_state = TcpState::kEstablished;
  flows_.merge_kernel(adopted, at(milliseconds(300)));
  adopted.tcp_state = TcpState::kNone;
  flows_.merge_kernel(adopted, at(milliseconds(400)));
  EXPECT_EQ(flows_.copy(adopted.original, at(milliseconds(400)))->flow.tcp_state,
            TcpState::kEstablished);
}

}  // namespace
}  // namespace verdictd
