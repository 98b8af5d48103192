// The hook pipeline: each hook's stages in the kernel's priority order, and
// what its connection stages do between the tables (tracking, NAT's first
// packet and null binding, drops where the kernel drops, connmark written back).
#include "pipeline/hook_pipeline.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "conntrack/tracking_points.hpp"
#include "conntrack/tuple.hpp"
#include "nat/nat_binder.hpp"
#include "packets.hpp"
#include "pipeline/hook_stages.hpp"
#include "ruleset/loader.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

constexpr std::uint32_t kLan = 2;
const auto kUdp = test::ipv4_packet(ipproto::kUdp, "10.1.0.2", "10.2.0.2", 4000, 53);
const auto kOtherUdp = test::ipv4_packet(ipproto::kUdp, "10.1.0.2", "10.2.0.2", 4001, 53);
const ConntrackTime kNow = ConntrackTime{} + std::chrono::hours(1);

bool has_stage(Hook hook, StageKind kind) {
  const auto stages = hook_stages(hook);
  return std::any_of(stages.begin(), stages.end(),
                     [kind](const Stage& stage) { return stage.kind == kind; });
}

TEST(HookStages, EachHooksStagesRunInTheKernelsPriorityOrder) {
  for (Hook hook : kAllHooks) {
    const auto stages = hook_stages(hook);
    EXPECT_TRUE(std::is_sorted(stages.begin(), stages.end(), [](const Stage& a, const Stage& b) {
      return a.priority < b.priority;
    })) << hook_name(hook);
    EXPECT_EQ(
        std::adjacent_find(stages.begin(), stages.end(),
                           [](const Stage& a, const Stage& b) { return a.priority == b.priority; }),
        stages.end())
        << hook_name(hook) << ": two stages at one priority";
  }
}

TEST(HookStages, EachStageHasItsKernelPriority) {
  const auto expected = [](Hook hook, const Stage& stage) {
    switch (stage.kind) {
      case StageKind::kConntrack:
        return -200;
      case StageKind::kConfirm:
        return INT_MAX;
      case StageKind::kNat:
        // The destination where a packet enters, the source where it leaves.
        return hook == Hook::kPrerouting || hook == Hook::kOutput ? -100 : 100;
      case StageKind::kTable:
        break;
    }
    switch (stage.table) {
      case TableId::kRaw:
        return -300;
      case TableId::kMangle:
        return -150;
      case TableId::kFilter:
        return 0;
      case TableId::kSecurity:
        return 50;
      case TableId::kNat:
        break;
    }
    return -1;  // the nat table is a kNat stage, never a plain one
  };
  for (Hook hook : kAllHooks) {
    for (const Stage& stage : hook_stages(hook)) {
      EXPECT_EQ(stage.priority, expected(hook, stage))
          << hook_name(hook) << " " << table_name(stage.table);
    }
  }
}

TEST(HookStages, ATableHasAStageExactlyAtTheHooksItRegisters) {
  for (Hook hook : kAllHooks) {
    const auto stages = hook_stages(hook);
    for (TableId table : kAllTables) {
      const auto count = std::count_if(stages.begin(), stages.end(), [table](const Stage& stage) {
        return (stage.kind == StageKind::kTable || stage.kind == StageKind::kNat) &&
               stage.table == table;
      });
      EXPECT_EQ(count, (table_hooks(table) & hook_bit(hook)) != 0 ? 1 : 0)
          << table_name(table) << " at " << hook_name(hook);
    }
  }
}

TEST(HookStages, ConntrackWhereAPacketEntersConfirmWhereItLeaves) {
  for (Hook hook : kAllHooks) {
    const bool enters = hook == Hook::kPrerouting || hook == Hook::kOutput;
    const bool leaves = hook == Hook::kInput || hook == Hook::kPostrouting;
    EXPECT_EQ(has_stage(hook, StageKind::kConntrack), enters) << hook_name(hook);
    EXPECT_EQ(has_stage(hook, StageKind::kConfirm), leaves) << hook_name(hook);
  }
}

// One host's connection tracking and a ruleset, packets sent through hooks.
class HookPipeline : public ::testing::Test {
 protected:
  void load(const std::string& tables) {
    rules_with_state_ = test::with_state(R"({"tables": )" + tables + "}");
    rules_ = PipelineRules(*rules_with_state_.ruleset, *rules_with_state_.state);
  }

  // The packet `bytes` at `hook`, in from `in` and out to `out` (0: none).
  static HookPacket at(Hook hook, const std::vector<std::uint8_t>& bytes, std::uint32_t in,
                       std::uint32_t out) {
    HookPacket packet;
    packet.hook = hook;
    packet.packet = PacketView::parse(bytes);
    packet.in_ifindex = in;
    packet.out_ifindex = out;
    packet.now = kNow;
    return packet;
  }
  HookOutcome run(const HookPacket& packet) {
    return run_hook(rules_, packet, &tracking_, rewritten_);
  }
  HookOutcome run(Hook hook, const std::vector<std::uint8_t>& bytes, std::uint32_t in,
                  std::uint32_t out) {
    return run(at(hook, bytes, in, out));
  }

  std::uint64_t packets(TableId table, std::string_view chain, std::size_t index = 0) const {
    return rules_with_state_.chain(table, chain).rules.at(index)->counters.packets;
  }

  FlowTable flows_;
  Expectations expectations_;
  Tracker tracker_{flows_, expectations_};
  NatBinder nat_{flows_, {}};
  ConnectionTracking tracking_{.flows = &flows_, .tracker = &tracker_, .nat = &nat_};
  test::RulesetWithState rules_with_state_;
  PipelineRules rules_;
  std::vector<std::uint8_t> rewritten_;
};

TEST_F(HookPipeline, NatChainsSeeAConnectionsFirstPacketAndThenItsNullBinding) {
  load(R"({"nat": {"PREROUTING": {"rules": [{"match": {"protocol": "udp"}}]}}})");
  const HookOutcome first = run(Hook::kPrerouting, kUdp, kLan, 0);
  ASSERT_TRUE(first.connection.has_flow);
  EXPECT_EQ(first.connection.state, CtState::kNew);
  EXPECT_EQ(packets(TableId::kNat, "PREROUTING"), 1U);
  EXPECT_EQ(flows_.copy(first.connection.flow.original, kNow)->flow.nat_done,
            natmanip::kDestination)
      << "no rule bound it: a null binding";
  const HookOutcome second = run(Hook::kPrerouting, kUdp, kLan, 0);
  EXPECT_EQ(second.connection.state, CtState::kNew) << "still unanswered";
  EXPECT_EQ(packets(TableId::kNat, "PREROUTING"), 1U) << "its binding is made";
}

TEST_F(HookPipeline, ConntrackRunsAfterRawWhereThePacketEnters) {
  load(R"({"raw": {"PREROUTING": {"rules": [{"match": {"ctstate": "INVALID"}}]}},
           "mangle": {"PREROUTING": {"rules": [{"match": {"ctstate": "NEW"}}]}}})");
  run(Hook::kPrerouting, kUdp, kLan, 0);
  EXPECT_EQ(packets(TableId::kRaw, "PREROUTING"), 1U) << "raw: no connection yet";
  EXPECT_EQ(packets(TableId::kMangle, "PREROUTING"), 1U);
}

TEST_F(HookPipeline, ALoopbackPacketComesBackInWithItsConnection) {
  load(R"({"raw": {"PREROUTING": {"rules": [{"match": {"ctstate": "NEW"}}]}}})");
  run(Hook::kOutput, kUdp, 0, kLoopbackIfindex);
  const HookOutcome back = run(Hook::kPrerouting, kUdp, kLoopbackIfindex, 0);
  EXPECT_EQ(back.verdict, Verdict::kAccept);
  EXPECT_EQ(packets(TableId::kRaw, "PREROUTING"), 1U) << "raw sees the state it got at OUTPUT";
  run(Hook::kPrerouting, kOtherUdp, kLan, 0);
  EXPECT_EQ(packets(TableId::kRaw, "PREROUTING"), 1U) << "from elsewhere: tracked after raw";
}

TEST_F(HookPipeline, APacketIsTrackedAtTheFirstSteeredHookOnItsWay) {
  load(R"({"mangle": {"INPUT": {"rules": [{"match": {"ctstate": "NEW"}}]}}})");
  constexpr HookMask kInputOnly = hook_bit(Hook::kInput) | hook_bit(Hook::kOutput);
  HookPacket unsteered_packet = at(Hook::kInput, kUdp, kLan, 0);
  unsteered_packet.steered = kInputOnly;
  const HookOutcome unsteered = run(unsteered_packet);
  EXPECT_EQ(unsteered.connection.state, CtState::kNew) << "PREROUTING not steered: tracked here";
  EXPECT_EQ(packets(TableId::kMangle, "INPUT"), 1U);
  const HookOutcome steered = run(Hook::kInput, kOtherUdp, kLan, 0);
  EXPECT_EQ(steered.connection.state, CtState::kInvalid)
      << "PREROUTING steered: recalled, and it never crossed it";
  EXPECT_FALSE(flows_.copy(packet_tuple(PacketView::parse(kOtherUdp)).value(), kNow));
}

TEST_F(HookPipeline, AFullTableDropsANewConnectionAtTheConntrackStage) {
  FlowTable one_flow(1);
  tracking_.flows = &one_flow;
  Tracker tracker{one_flow, expectations_};
  tracking_.tracker = &tracker;
  load(R"({"raw": {"PREROUTING": {"rules": [{"match": {"protocol": "udp"}}]}},
           "mangle": {"PREROUTING": {"rules": [{"match": {"protocol": "udp"}}]}},
           "filter": {"INPUT": {"rules": [{"match": {"ctstate": "NEW"}}]}}})");
  const HookOutcome first = run(Hook::kPrerouting, kUdp, kLan, 0);
  one_flow.modify(first.connection.flow.original, kNow,
                  [](Flow& flow, Direction /*direction*/) { flow.status |= ctstatus::kAssured; });
  const HookOutcome refused = run(Hook::kPrerouting, kOtherUdp, kLan, 0);
  EXPECT_EQ(refused.verdict, Verdict::kDrop);
  EXPECT_EQ(packets(TableId::kRaw, "PREROUTING"), 2U);
  EXPECT_EQ(packets(TableId::kMangle, "PREROUTING"), 1U) << "the tables after it never see it";
}

TEST_F(HookPipeline, APacketThatCannotBeTranslatedIsDroppedAtTheNatStage) {
  load(R"({"nat": {"OUTPUT": {"rules": [
             {"target": {"DNAT": {"to_destination": "10.3.0.3"}}}]}},
           "filter": {"OUTPUT": {"rules": [{"match": {"protocol": "udp"}}]}}})");
  const HookOutcome whole = run(Hook::kOutput, kUdp, 0, kLan);
  EXPECT_EQ(whole.verdict, Verdict::kAccept);
  ASSERT_FALSE(whole.translated.empty());
  EXPECT_EQ(PacketView::parse(whole.translated).destination, *IpAddress::parse("10.3.0.3"));
  EXPECT_EQ(packets(TableId::kFilter, "OUTPUT"), 1U);
  HookPacket cut_packet = at(Hook::kOutput, kUdp, 0, kLan);
  cut_packet.cut_short = true;
  const HookOutcome cut = run(cut_packet);
  EXPECT_EQ(cut.verdict, Verdict::kDrop) << "a cut-short copy cannot be handed back whole";
  EXPECT_TRUE(cut.translated.empty());
  EXPECT_EQ(packets(TableId::kFilter, "OUTPUT"), 1U) << "filter, after nat, never sees it";
}

TEST_F(HookPipeline, ADroppedFirstPacketTakesItsConnectionAlong) {
  load(R"({"filter": {"FORWARD": {"rules": [{"match": {"ctstate": "NEW"}, "target": "DROP"}]}}})");
  const HookOutcome entered = run(Hook::kPrerouting, kUdp, kLan, 0);
  ASSERT_TRUE(flows_.copy(entered.connection.flow.original, kNow));
  EXPECT_EQ(run(Hook::kForward, kUdp, kLan, 0).verdict, Verdict::kDrop);
  EXPECT_FALSE(flows_.copy(entered.connection.flow.original, kNow));
}

TEST_F(HookPipeline, AConnmarkIsWrittenBackForTheLaterHooks) {
  load(R"({"mangle": {"PREROUTING": {"rules": [{"target": {"CONNMARK": {"set_mark": "0x5"}}}]},
                      "INPUT": {"rules": [{"match": {"connmark": "0x5"}}]}}})");
  const HookOutcome marked = run(Hook::kPrerouting, kUdp, kLan, 0);
  EXPECT_TRUE(marked.connection.connmark_changed);
  const auto found = flows_.copy(marked.connection.flow.original, kNow);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->flow.mark, 5U);
  EXPECT_TRUE(found->flow.mark_unsynced) << "the kernel's entry is still to be told";
  run(Hook::kInput, kUdp, kLan, 0);
  EXPECT_EQ(packets(TableId::kMangle, "INPUT"), 1U);
}

TEST_F(HookPipeline, NotrackInRawLeavesThePacketUntracked) {
  load(R"({"raw": {"OUTPUT": {"rules": [{"target": "NOTRACK"}]}},
           "filter": {"OUTPUT": {"rules": [{"match": {"ctstate": "UNTRACKED"}}]}}})");
  const HookOutcome untracked = run(Hook::kOutput, kUdp, 0, kLan);
  EXPECT_TRUE(untracked.connection.notrack);
  EXPECT_EQ(untracked.connection.state, CtState::kUntracked);
  EXPECT_EQ(packets(TableId::kFilter, "OUTPUT"), 1U);
  EXPECT_EQ(flows_.stats().flows, 0U);
  HookPacket later_packet = at(Hook::kPostrouting, kUdp, 0, kLan);
  later_packet.untracked = true;
  const HookOutcome later = run(later_packet);
  EXPECT_EQ(later.connection.state, CtState::kUntracked) << "carried to the later hooks";
}

}  // namespace
}  // namespace verdictd
