// Chain walking as the kernel does it: first match, jump and goto, RETURN,
// policies, counters, and the order of tables at a hook.
#include <gtest/gtest.h>

#include "packets.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

struct Evaluated {
  Verdict verdict;
  std::uint32_t mark;
};

Evaluated run(const test::RulesetWithState& rs, Hook hook, const std::vector<std::uint8_t>& bytes,
              std::string_view in = "eth0", std::string_view out = "") {
  HookPacket packet;
  packet.hook = hook;
  packet.packet = PacketView::parse(bytes);
  packet.in_interface = in;
  packet.out_interface = out;
  std::vector<std::uint8_t> rewritten;
  const HookOutcome outcome =
      run_hook(PipelineRules(*rs.ruleset, *rs.state), packet, nullptr, rewritten);
  return {outcome.verdict, outcome.mark};
}

const auto kTcp22 = test::ipv4_packet(6, "10.0.0.5", "10.0.0.1", 40000, 22);
const auto kTcp80 = test::ipv4_packet(6, "10.0.0.5", "10.0.0.1", 40000, 80);
const auto kUdp53 = test::ipv4_packet(17, "192.168.1.9", "10.0.0.1", 5353, 53);

TEST(Engine, FirstMatchingRuleDecidesAndPolicyCatchesTheRest) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"policy": "DROP", "rules": [
      {"match": {"protocol": "tcp", "dport": 22}, "target": "ACCEPT"},
      {"match": {"protocol": "tcp"}, "target": "DROP"},
      {"target": "ACCEPT"}]}}}})");
  EXPECT_EQ(run(rs, Hook::kInput, kTcp22).verdict, Verdict::kAccept);
  EXPECT_EQ(run(rs, Hook::kInput, kTcp80).verdict, Verdict::kDrop);
  EXPECT_EQ(run(rs, Hook::kInput, kUdp53).verdict, Verdict::kAccept);
  const ChainState& input = rs.chain(TableId::kFilter, "INPUT");
  EXPECT_EQ(input.rules[0]->counters.packets, 1U);
  EXPECT_EQ(input.rules[0]->counters.bytes, kTcp22.size());
  EXPECT_EQ(input.rules[1]->counters.packets, 1U);
  EXPECT_EQ(input.rules[2]->counters.packets, 1U);
  EXPECT_EQ(input.policy(Family::kIPv4).packets, 0U);
  // Other hooks are untouched by INPUT rules.
  EXPECT_EQ(run(rs, Hook::kForward, kTcp80).verdict, Verdict::kAccept);
}

TEST(Engine, ByteCountersCountThePacketNotTheCopiedBytes) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "udp"}}]}}}})");
  auto copied = kUdp53;  // the first bytes of a 1400-byte datagram, as a short copy range gives
  copied[2] = 1400 >> 8;
  copied[3] = 1400 & 0xff;
  run(rs, Hook::kInput, copied);
  EXPECT_EQ(rs.chain(TableId::kFilter, "INPUT").rules[0]->counters.bytes, 1400U);
}

TEST(Engine, CutShortTransportHeaderIsDroppedLikeTheKernelsHotdrop) {
  // The kernel's tcp match drops a packet whose TCP header it cannot read,
  // even with an ACCEPT policy and no rule that would drop it.
  auto rs = test::with_state(R"({"tables": {"filter": {"FORWARD": {"rules": [
      {"match": {"dport": 9999, "protocol": "tcp"}, "target": "ACCEPT"},
      {"match": {"protocol": "udp"}}]}}}})");
  auto cut = kTcp80;
  cut.resize(20 + 16);
  cut[3] = static_cast<std::uint8_t>(cut.size());
  EXPECT_EQ(run(rs, Hook::kForward, cut, "eth0", "eth1").verdict, Verdict::kDrop);
  const ChainState& forward = rs.chain(TableId::kFilter, "FORWARD");
  EXPECT_EQ(forward.rules[0]->counters.packets, 0U);
  EXPECT_EQ(forward.policy(Family::kIPv4).packets, 0U);
  // Written after the port, the protocol is still checked first (it belongs to
  // the rule header), so a UDP packet never reaches the tcp port match.
  EXPECT_EQ(run(rs, Hook::kForward, kUdp53, "eth0", "eth1").verdict, Verdict::kAccept);
  EXPECT_EQ(forward.rules[1]->counters.packets, 1U);
}

TEST(Engine, DropPolicyCountsWhatFallsThrough) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"policy": "DROP", "rules": [
      {"match": {"protocol": "udp"}}]}}}})");
  EXPECT_EQ(run(rs, Hook::kInput, kUdp53).verdict, Verdict::kDrop);
  const ChainState& input = rs.chain(TableId::kFilter, "INPUT");
  EXPECT_EQ(input.rules[0]->counters.packets, 1U);  // a rule without target only counts
  EXPECT_EQ(input.policy(Family::kIPv4).packets, 1U);
  EXPECT_EQ(input.policy(Family::kIPv4).bytes, kUdp53.size());
}

TEST(Engine, JumpReturnsAfterTheJumpingRuleGotoDoesNot) {
  auto rs = test::with_state(R"({"tables": {"filter": {
      "INPUT": {"policy": "DROP", "rules": [
        {"match": {"protocol": "tcp"}, "jump": "jumped"},
        {"match": {"protocol": "tcp", "dport": 22}, "target": "ACCEPT"},
        {"match": {"protocol": "udp"}, "goto": "gone"},
        {"match": {"protocol": "udp"}, "target": "ACCEPT"}]},
      "jumped": {"rules": [
        {"match": {"protocol": "tcp", "dport": 80}, "target": "RETURN"},
        {"match": {"protocol": "tcp", "dport": 22}, "target": "DROP"}]},
      "gone": {"rules": [{"match": {"protocol": "udp", "dport": 53}, "target": "RETURN"}]}}}})");
  // dport 80: RETURN from "jumped", then nothing in INPUT accepts it: policy DROP.
  EXPECT_EQ(run(rs, Hook::kInput, kTcp80).verdict, Verdict::kDrop);
  // dport 22: dropped inside "jumped" before INPUT's ACCEPT is reached.
  EXPECT_EQ(run(rs, Hook::kInput, kTcp22).verdict, Verdict::kDrop);
  // udp: goto "gone", RETURN goes back past INPUT (goto pushed nothing): the policy.
  EXPECT_EQ(run(rs, Hook::kInput, kUdp53).verdict, Verdict::kDrop);
  const ChainState& input = rs.chain(TableId::kFilter, "INPUT");
  EXPECT_EQ(input.rules[3]->counters.packets, 0U);
  EXPECT_EQ(input.policy(Family::kIPv4).packets, 2U);
}

TEST(Engine, EndOfUserChainReturnsToTheCaller) {
  auto rs = test::with_state(R"({"tables": {"filter": {
      "INPUT": {"policy": "DROP", "rules": [{"jump": "a"}, {"target": "ACCEPT"}]},
      "a": {"rules": [{"jump": "b"}]},
      "b": {"rules": [{"match": {"protocol": "udp"}, "target": "DROP"}]}}}})");
  EXPECT_EQ(run(rs, Hook::kInput, kTcp22).verdict, Verdict::kAccept);
  EXPECT_EQ(run(rs, Hook::kInput, kUdp53).verdict, Verdict::kDrop);
}

TEST(Engine, ReturnInBuiltinChainAppliesPolicy) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"policy": "DROP", "rules": [
      {"target": "RETURN"}, {"target": "ACCEPT"}]}}}})");
  EXPECT_EQ(run(rs, Hook::kInput, kTcp22).verdict, Verdict::kDrop);
  EXPECT_EQ(rs.chain(TableId::kFilter, "INPUT").policy(Family::kIPv4).packets, 1U);
}

TEST(Engine, AcceptEndsOnlyTheTableAndMarkCarriesAcross) {
  auto rs = test::with_state(R"({"tables": {
      "mangle": {"FORWARD": {"rules": [
        {"match": {"protocol": "tcp"}, "target": {"MARK": {"set_mark": "0x5"}}},
        {"target": "ACCEPT"},
        {"target": "DROP"}]}},
      "filter": {"FORWARD": {"policy": "DROP", "rules": [
        {"match": {"mark": "0x5"}, "target": "ACCEPT"}]}}}})");
  const Evaluated tcp = run(rs, Hook::kForward, kTcp80, "eth0", "eth1");
  EXPECT_EQ(tcp.verdict, Verdict::kAccept);
  EXPECT_EQ(tcp.mark, 5U);
  // Accepted by mangle but unmarked: filter's policy drops it.
  EXPECT_EQ(run(rs, Hook::kForward, kUdp53, "eth0", "eth1").verdict, Verdict::kDrop);
}

TEST(Engine, RulesApplyOnlyToTheirFamily) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"source": "10.0.0.0/8"}, "target": "DROP"},
      {"match": {"source": "2001:db8::/32"}, "target": "DROP"},
      {"match": {"protocol": "udp"}}]}}}})");
  const auto v6 = test::ipv6_udp_packet("2001:db8::1", "2001:db8::2", 1, 2);
  const auto v6_other = test::ipv6_udp_packet("fd00::1", "fd00::2", 1, 2);
  EXPECT_EQ(run(rs, Hook::kInput, kTcp22).verdict, Verdict::kDrop);
  EXPECT_EQ(run(rs, Hook::kInput, v6).verdict, Verdict::kDrop);
  EXPECT_EQ(run(rs, Hook::kInput, v6_other).verdict, Verdict::kAccept);
  const ChainState& input = rs.chain(TableId::kFilter, "INPUT");
  EXPECT_EQ(input.rules[0]->counters.packets, 1U);
  EXPECT_EQ(input.rules[1]->counters.packets, 1U);
  EXPECT_EQ(input.rules[2]->counters.packets, 1U);  // family-neutral: counted for v6
}

TEST(Engine, TablesRunInKernelPriorityOrder) {
  // raw marks, mangle sees raw's mark, filter sees mangle's.
  auto rs = test::with_state(R"({"tables": {
      "raw": {"OUTPUT": {"rules": [{"target": {"MARK": {"set_mark": "0x1"}}}]}},
      "mangle": {"OUTPUT": {"rules": [
        {"match": {"mark": "0x1"}, "target": {"MARK": {"or_mark": "0x2"}}}]}},
      "filter": {"OUTPUT": {"rules": [{"match": {"mark": "0x3"}, "target": "DROP"}]}}}})");
  const Evaluated r = run(rs, Hook::kOutput, kTcp22, "", "eth0");
  EXPECT_EQ(r.mark, 3U);
  EXPECT_EQ(r.verdict, Verdict::kDrop);
}

TEST(Engine, EvaluatingWithoutTheRulesetsStateIsRefused) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": []}}}})");
  EvalState state;
  state.hook = Hook::kInput;
  EXPECT_THROW(
      evaluate_table(rs.ruleset->table(TableId::kFilter), PacketView::parse(kUdp53), state),
      std::logic_error);
}

}  // namespace
}  // namespace verdictd
