// ParkingLot: a packet whose connection must be asked of the kernel waits
// for the answer while other connections' packets are decided at once; its
// connection's later packets wait behind it and all resume in arrival order;
// an answer that takes too long is abandoned, counted, and the packets go on.
#include <gtest/gtest.h>

#include <chrono>
#include <utility>
#include <vector>

#include "conntrack/parking_lot.hpp"
#include "conntrack/tracker.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using std::chrono::milliseconds;
using test::Bytes;
using test::ipv4;
using test::tcp_header;

constexpr std::uint8_t kSyn = 0x02;
constexpr std::uint8_t kAck = 0x10;
constexpr std::uint8_t kPsh = 0x08;
constexpr auto kPatience = milliseconds(500);

// A slow kernel: answers each question `delay` after it was asked (never,
// when `delay` is nullopt), merging the connections it knows into the table
// as the mirror does.
class SlowKernel final : public KernelLookup {
 public:
  SlowKernel(FlowTable& flows, const ConntrackTime& clock, std::optional<milliseconds> delay)
      : flows_(&flows), clock_(&clock), delay_(delay) {}

  std::optional<Ticket> ask(const Tuple& tuple) override {
    questions_.push_back({.tuple = tuple, .ticket = ++last_ticket_, .asked = *clock_});
    return last_ticket_;
  }
  void collect(std::vector<Ticket>& answered) override {
    std::erase_if(questions_, [&](const Question& question) {
      if (!delay_ || *clock_ < question.asked + *delay_) return false;
      for (const Flow& flow : known) {
        if (flow.original == question.tuple || flow.reply == question.tuple) {
          flows_->merge_kernel(flow, *clock_);
        }
      }
      answered.push_back(question.ticket);
      return true;
    });
  }
  void abandon(Ticket /*ticket*/) override { ++abandoned; }
  [[nodiscard]] int fd() const override { return -1; }

  std::vector<Flow> known;
  int abandoned = 0;
  [[nodiscard]] Ticket asked() const { return last_ticket_; }

 private:
  struct Question {
    Tuple tuple;
    Ticket ticket;
    ConntrackTime asked;
  };
  FlowTable* flows_;
  const ConntrackTime* clock_;
  std::optional<milliseconds> delay_;
  std::vector<Question> questions_;
  Ticket last_ticket_ = 0;
};

// A packet as a queue worker keeps it, and what became of it.
struct Packet {
  int number = 0;
  Bytes bytes;
};

struct Decided {
  int number;
  milliseconds arrived;
  milliseconds decided;
  CtState state;
};

class ConntrackParkingLot : public ::testing::Test {
 protected:
  explicit ConntrackParkingLot(std::optional<milliseconds> delay = milliseconds(200))
      : kernel_(flows_, now_, delay) {}

  [[nodiscard]] milliseconds elapsed() const {
    return std::chrono::duration_cast<milliseconds>(now_ - start_);
  }

  // What the worker does with each packet as it arrives: parks it, or
  // decides it (tracks it) now.
  void arrive(int number, const Bytes& bytes) {
    const PacketView view = PacketView::parse(bytes);
    PacketConntrack ct;
    ct.now = now_;
    arrived_.push_back(elapsed());
    if (const auto question = tracker_.question(view, ct);
        question && lot_.park(*question, now_, [&] {
          return Packet{number, bytes};
        })) {
      return;
    }
    decide(number, bytes);
  }

  // What the worker does between packets and when woken.
  void advance(milliseconds by) {
    now_ += by;
    lot_.resume(now_, [this](Packet&& packet) { decide(packet.number, packet.bytes); });
  }

  void decide(int number, const Bytes& bytes) {
    PacketConntrack ct;
    ct.now = now_;
    tracker_.track(PacketView::parse(bytes), ct);
    decided_.push_back({.number = number,
                        .arrived = arrived_[static_cast<std::size_t>(number)],
                        .decided = elapsed(),
                        .state = ct.state});
  }

  // The client's established connection to port 22, which only the kernel knows.
  [[nodiscard]] Flow kernels_connection() const {
    Flow known;
    known.original = *packet_tuple(PacketView::parse(from_client(kAck)));
    known.reply = *reply_tuple(known.original);
    known.status = ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed;
    known.tcp_state = TcpState::kEstablished;
    known.kernel_id = 7;
    known.created = start_;
    known.expires = start_ + std::chrono::seconds{1000};
    return known;
  }

  static Bytes from_client(std::uint8_t flags) {
    return ipv4(
        6, "10.0.1.2", "10.0.2.2",
        tcp_header({.sport = 40000, .dport = 22, .flags = flags, .seq = 1000, .ack = 5000}));
  }
  static Bytes from_server(std::uint8_t flags) {
    return ipv4(
        6, "10.0.2.2", "10.0.1.2",
        tcp_header({.sport = 22, .dport = 40000, .flags = flags, .seq = 5000, .ack = 1000}));
  }
  // A SYN starts a connection: it is never asked about.
  static Bytes syn(std::uint16_t source_port) {
    return ipv4(6, "10.0.1.2", "10.0.3.3",
                tcp_header({.sport = source_port, .dport = 80, .flags = kSyn, .seq = 1}));
  }

  // The slow connection's packets and those of other flows, interleaved,
  // 10 ms apart.
  void interleave() {
    arrive(0, from_client(kAck | kPsh));  // the kernel is asked
    advance(milliseconds(10));
    arrive(1, syn(1001));
    advance(milliseconds(10));
    arrive(2, from_server(kAck));  // the same connection, the other way: behind packet 0
    advance(milliseconds(10));
    arrive(3, syn(1002));
    advance(milliseconds(10));
    arrive(4, from_client(kAck));
    advance(milliseconds(10));
    arrive(5, syn(1001));  // packet 1 again (a retransmission)
  }

  ConntrackTime start_ = ConntrackClock::now();
  ConntrackTime now_ = start_;
  FlowTable flows_;
  Expectations expectations_;
  Tracker tracker_{flows_, expectations_};
  SlowKernel kernel_;
  ParkingLot<Packet> lot_{kernel_, kPatience};
  std::vector<milliseconds> arrived_;
  std::vector<Decided> decided_;
};

TEST_F(ConntrackParkingLot, ParksBehindASlowKernelWhileOtherFlowsGoOn) {
  kernel_.known.push_back(kernels_connection());
  interleave();
  // The other flows' packets were decided the moment they arrived.
  ASSERT_EQ(decided_.size(), 3U);
  for (const Decided& d : decided_) EXPECT_EQ(d.decided, d.arrived) << "packet " << d.number;
  EXPECT_EQ(decided_[0].number, 1);
  EXPECT_EQ(decided_[1].number, 3);
  EXPECT_EQ(decided_[2].number, 5);
  for (const Decided& d : decided_) EXPECT_EQ(d.state, CtState::kNew) << "packet " << d.number;
  EXPECT_EQ(kernel_.asked(), 1U);  // once for the connection, not for each packet

  while (elapsed() < milliseconds(300)) advance(milliseconds(10));
  // The answer came at 200 ms; the connection's packets followed it in the
  // order they arrived, continuing the kernel's connection.
  ASSERT_EQ(decided_.size(), 6U);
  EXPECT_EQ(decided_[3].number, 0);
  EXPECT_EQ(decided_[4].number, 2);
  EXPECT_EQ(decided_[5].number, 4);
  for (std::size_t i = 3; i < 6; ++i) {
    EXPECT_EQ(decided_[i].decided, milliseconds(200));
    EXPECT_EQ(decided_[i].state, CtState::kEstablished);
  }
  EXPECT_EQ(kernel_.abandoned, 0);
  EXPECT_FALSE(lot_.deadline());
  EXPECT_TRUE(lot_.empty());

  // Known now: the connection's next packet is neither asked about nor held.
  arrive(6, from_client(kAck));
  EXPECT_EQ(decided_.back().number, 6);
  EXPECT_EQ(decided_.back().decided, decided_.back().arrived);
  EXPECT_EQ(kernel_.asked(), 1U);
}

class ConntrackParkingLotSilentKernel : public ConntrackParkingLot {
 protected:
  ConntrackParkingLotSilentKernel() : ConntrackParkingLot(std::nullopt) {}
};

TEST_F(ConntrackParkingLotSilentKernel, AnAnswerThatNeverComesTimesOut) {
  kernel_.known.push_back(kernels_connection());
  interleave();
  ASSERT_EQ(lot_.deadline(), start_ + kPatience);
  while (elapsed() < kPatience - milliseconds(10)) advance(milliseconds(10));
  EXPECT_EQ(decided_.size(), 3U);
  EXPECT_EQ(kernel_.abandoned, 0);

  advance(milliseconds(10));
  // Abandoned and counted; the packets went on in their order, decided from
  // the table alone (a pickup: NEW).
  EXPECT_EQ(kernel_.abandoned, 1);
  ASSERT_EQ(decided_.size(), 6U);
  EXPECT_EQ(decided_[3].number, 0);
  EXPECT_EQ(decided_[4].number, 2);
  EXPECT_EQ(decided_[5].number, 4);
  EXPECT_EQ(decided_[3].decided, kPatience);
  EXPECT_EQ(decided_[3].state, CtState::kNew);
  EXPECT_TRUE(lot_.empty());
  EXPECT_FALSE(lot_.deadline());
}

}  // namespace
}  // namespace verdictd
