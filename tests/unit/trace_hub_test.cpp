// The daemon's trace hub and drop ring: who gets which record, a traced
// packet known again at a later hook, a slow follower's losses, and drops
// named by their rule.
#include "service/trace_hub.hpp"

#include <gtest/gtest.h>

#include "packets.hpp"
#include "ruleset_with_state.hpp"
#include "service/drop_log.hpp"

namespace verdictd {
namespace {

using Json = nlohmann::ordered_json;
using std::chrono::milliseconds;

const auto kRules = R"({"tables": {"filter": {"INPUT": {"policy": "DROP", "rules": [
    {"comment": "no telnet", "match": {"protocol": "tcp", "dport": 23}, "target": "DROP"}]}}}})";

PacketTrace traced(std::uint64_t readers, bool accepted) {
  PacketTrace trace;
  trace.readers = readers;
  trace.hook = Hook::kInput;
  trace.accepted = accepted;
  return trace;
}

TEST(TraceHub, EachFollowerGetsWhatItFollows) {
  auto rs = test::with_state(kRules);
  TraceHub hub;
  EXPECT_FALSE(hub.active());
  auto by_rules = hub.follow(nullptr);
  auto by_filter =
      hub.follow(std::make_shared<TraceSelector>(Json::parse(R"({"protocol": "udp"})")));
  EXPECT_TRUE(hub.active());
  const auto selections = hub.arrival(0, std::chrono::steady_clock::now()).selections;
  ASSERT_EQ(selections->list.size(), 1U);
  const std::uint64_t filter_bit = selections->list[0].reader;
  EXPECT_NE(filter_bit & PacketTrace::kTraceRuleReader, PacketTrace::kTraceRuleReader);

  const auto now = std::chrono::steady_clock::now();
  hub.publish(traced(PacketTrace::kTraceRuleReader, true), *rs.ruleset, 1, now);
  hub.publish(traced(filter_bit, false), *rs.ruleset, 2, now);
  EXPECT_EQ(by_rules->take(milliseconds(0)).size(), 1U);
  const auto records = by_filter->take(milliseconds(0));
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(Json::parse(records[0])["verdict"], "DROP");

  // An accepted packet is known again at the next hook, for a while.
  EXPECT_EQ(hub.arrival(1, now).carried_readers, PacketTrace::kTraceRuleReader);
  EXPECT_EQ(hub.arrival(2, now).carried_readers, 0U) << "a dropped packet goes no further";
  EXPECT_EQ(hub.arrival(1, now + TraceHub::kCarried).carried_readers, 0U);

  hub.unfollow(by_rules);
  hub.unfollow(by_filter);
  EXPECT_FALSE(hub.active());
  EXPECT_TRUE(hub.arrival(0, std::chrono::steady_clock::now()).selections->list.empty());
}

TEST(TraceHub, ReaderBitsAreReusedAndLimited) {
  TraceHub hub;
  std::vector<std::shared_ptr<TraceFollower>> followers;
  for (std::size_t i = 0; i < TraceHub::kMaxFollowers; ++i) {
    followers.push_back(hub.follow(nullptr));
  }
  EXPECT_THROW(hub.follow(nullptr), std::runtime_error);
  hub.unfollow(followers[5]);
  EXPECT_NO_THROW(followers[5] = hub.follow(nullptr));
}

TEST(TraceHub, AFollowerThatDoesNotReadLosesTheOldestAndIsTold) {
  auto rs = test::with_state(kRules);
  TraceHub hub;
  auto follower = hub.follow(nullptr);
  const auto now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < TraceFollower::kMaxQueued + 3; ++i) {
    hub.publish(traced(PacketTrace::kTraceRuleReader, true), *rs.ruleset, i, now);
  }
  EXPECT_EQ(follower->take(milliseconds(0)).size(), TraceFollower::kMaxQueued);
  EXPECT_EQ(follower->lost(), 3U);
}

TEST(DropLog, NamesTheRuleOrPolicyThatDropped) {
  auto rs = test::with_state(kRules);
  DropLog drops;
  const auto telnet = test::ipv4_packet(6, "10.0.0.5", "10.0.0.1", 40000, 23);
  const auto ssh = test::ipv4_packet(6, "10.0.0.5", "10.0.0.1", 40000, 22);
  for (const auto* bytes : {&telnet, &ssh}) {
    HookPacket in;
    in.hook = Hook::kInput;
    in.in_interface = "eth0";
    in.packet = PacketView::parse(*bytes);
    std::vector<std::uint8_t> rewritten;
    const HookOutcome outcome =
        run_hook(PipelineRules(*rs.ruleset, *rs.state), in, nullptr, rewritten);
    ASSERT_EQ(outcome.verdict, Verdict::kDrop);
    drops.record(in, outcome, *rs.ruleset);
  }
  const Json last = drops.last(10);
  ASSERT_EQ(last.size(), 2U);
  EXPECT_EQ(last[0]["by"], Json::parse(R"({"kind": "rule", "table": "filter", "chain": "INPUT",
      "rule": 1, "comment": "no telnet", "action": "DROP", "location": "t:2:5"})"));
  EXPECT_EQ(last[1]["by"]["kind"], "policy");
  EXPECT_EQ(last[1]["packet"]["dport"], 22);
  EXPECT_EQ(last[1]["in"], "eth0");
  EXPECT_EQ(drops.last(1).size(), 1U);
  EXPECT_EQ(drops.recorded(), 2U);
}

}  // namespace
}  // namespace verdictd
