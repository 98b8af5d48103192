// Traces: where rules are written, the steps the chain walk records (as the
// kernel's trace_packet: jump, goto, RETURN, the end of a chain, policies,
// the TRACE rule itself left out), the record's JSON, trace selectors, the
// fingerprint that knows a packet again after NAT, and drop causes.
#include <gtest/gtest.h>

#include "extension/error.hpp"
#include "extension/packet_trace.hpp"
#include "packets.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "pipeline/trace_json.hpp"
#include "pipeline/trace_selector.hpp"
#include "ruleset_with_state.hpp"
#include "text/json_position.hpp"

namespace verdictd {
namespace {

using Json = nlohmann::ordered_json;

const auto kTcp80 = test::ipv4_packet(6, "10.0.0.5", "10.0.0.1", 40000, 80);
const auto kTcp81 = test::ipv4_packet(6, "10.0.0.5", "10.0.0.1", 40000, 81);

// The ruleset's text, laid out as people write it: one rule a line.
constexpr const char* kChains = R"({"tables": {
  "raw": {"PREROUTING": {"rules": [
    {"match": {"protocol": "tcp"}, "target": "TRACE"}]}},
  "filter": {
    "FORWARD": {"policy": "DROP", "rules": [
      {"match": {"protocol": "tcp"}, "jump": "checks"},
      {"match": {"protocol": "tcp", "dport": 80}, "goto": "web"}]},
    "checks": {"rules": [
      {"match": {"protocol": "tcp"}, "target": {"MARK": {"set_mark": "0x7"}}},
      {"match": {"protocol": "tcp"}, "target": "RETURN"}]},
    "web": {"rules": [
      {"comment": "counted"}]}
  }}})";

struct Traced {
  HookOutcome outcome;
  PacketTrace trace;
};

Traced run(const test::RulesetWithState& rs, Hook hook, const std::vector<std::uint8_t>& bytes,
           std::uint64_t readers) {
  Traced t;
  t.trace.readers = readers;
  HookPacket packet;
  packet.hook = hook;
  packet.packet = PacketView::parse(bytes);
  packet.in_interface = "eth0";
  packet.out_interface = hook == Hook::kForward ? "eth1" : "";
  packet.trace = &t.trace;
  std::vector<std::uint8_t> rewritten;
  t.outcome = run_hook(PipelineRules(*rs.ruleset, *rs.state), packet, nullptr, rewritten);
  return t;
}

// "table chain kind rule outcome" for each step.
std::vector<std::string> steps(const PacketTrace& trace, const Ruleset& ruleset) {
  std::vector<std::string> out;
  const Json record = trace_json(trace, ruleset);
  for (const Json& step : record["steps"]) {
    out.push_back(step["table"].get<std::string>() + " " + step["chain"].get<std::string>() + " " +
                  step["kind"].get<std::string>() + " " +
                  (step.contains("rule") ? std::to_string(step["rule"].get<int>()) : "-") + " " +
                  step["outcome"].get<std::string>());
  }
  return out;
}

TEST(Trace, RulesAndChainsKnowWhereTheyAreWritten) {
  auto rs = test::with_state(kChains);
  const Table& filter = rs.ruleset->table(TableId::kFilter);
  const Chain& forward = filter.chains[static_cast<std::size_t>(filter.builtin[2])];
  EXPECT_EQ(forward.name, "FORWARD");
  EXPECT_EQ(forward.position.line, 5);
  EXPECT_EQ(forward.rules[0].position.line, 6);
  EXPECT_EQ(forward.rules[0].position.column, 7);
  EXPECT_EQ(forward.rules[1].position.line, 7);
  const Table& raw = rs.ruleset->table(TableId::kRaw);
  EXPECT_EQ(raw.chains[0].rules[0].position.line, 3);
}

TEST(Trace, VisitPositionsWalksEveryValueUpToTheDepthInOneScan) {
  std::vector<std::string> seen;
  visit_positions("{\"a\": [1, {\"b\": 2}],\n \"c\": \"x\"}", 2,
                  [&](const std::vector<std::string>& path, TextPosition at) {
                    std::string p;
                    for (const auto& token : path) p += "/" + token;
                    seen.push_back(p + "@" + std::to_string(at.line) + ":" +
                                   std::to_string(at.column));
                  });
  EXPECT_EQ(seen, (std::vector<std::string>{"@1:1", "/a@1:7", "/a/0@1:8", "/a/1@1:11",
                                            "/c@2:7"}));
}

TEST(Trace, StepsFollowJumpGotoReturnAndThePolicyAsTheKernelTracesThem) {
  auto rs = test::with_state(kChains);
  const Traced to80 = run(rs, Hook::kForward, kTcp80, PacketTrace::kTraceRuleReader);
  EXPECT_EQ(steps(to80.trace, *rs.ruleset),
            (std::vector<std::string>{
                "filter FORWARD rule 1 jump", "filter checks rule 1 continue",
                "filter checks rule 2 return", "filter FORWARD rule 2 goto",
                "filter web rule 1 continue", "filter web return - return",
                "filter FORWARD policy - drop"}));
  EXPECT_FALSE(to80.trace.accepted);
  const Json record = trace_json(to80.trace, *rs.ruleset);
  EXPECT_EQ(record["verdict"], "DROP");
  EXPECT_EQ(record["steps"][1]["action"], "MARK --set-xmark 0x7/0xffffffff");
  EXPECT_EQ(record["steps"][1]["changes"]["mark"], Json::array({"0x0", "0x7"}));
  EXPECT_FALSE(record["steps"][2].contains("changes"));
  EXPECT_EQ(record["steps"][4]["comment"], "counted");
  EXPECT_EQ(record["steps"][4]["location"], "t:12:7");
  // What dropped it, for `verdictctl drops`.
  EXPECT_EQ(to80.outcome.dropped_by.kind, DropCause::Kind::kPolicy);
  EXPECT_EQ(to80.outcome.dropped_by.table, TableId::kFilter);
}

TEST(Trace, NothingIsRecordedForAPacketNobodyFollows) {
  auto rs = test::with_state(kChains);
  EXPECT_TRUE(run(rs, Hook::kForward, kTcp81, 0).trace.steps.empty());
}

TEST(Trace, ATraceRuleStartsTheTraceAfterItselfAndEmptyTablesAreNotShown) {
  auto rs = test::with_state(kChains);
  const Traced t = run(rs, Hook::kPrerouting, kTcp80, 0);
  EXPECT_EQ(t.trace.readers, PacketTrace::kTraceRuleReader);
  // The raw table's policy only; mangle and nat hold nothing and are not shown.
  EXPECT_EQ(steps(t.trace, *rs.ruleset),
            (std::vector<std::string>{"raw PREROUTING policy - accept"}));
  EXPECT_TRUE(t.trace.accepted);
}

TEST(Trace, ADropByARuleNamesTheRule) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "udp"}, "target": "ACCEPT"},
      {"match": {"protocol": "tcp", "dport": 81}, "target": "DROP"}]}}}})");
  const Traced t = run(rs, Hook::kInput, kTcp81, 0);
  EXPECT_EQ(t.outcome.verdict, Verdict::kDrop);
  EXPECT_EQ(t.outcome.dropped_by.kind, DropCause::Kind::kRule);
  EXPECT_EQ(t.outcome.dropped_by.rule, 2U);
}

TEST(Trace, SelectorsSelectWithARulesMatchesAndRefuseStatefulOnes) {
  const TraceSelector web(Json::parse(R"({"protocol": "tcp", "dport": 80})"));
  EvalState state;
  EXPECT_TRUE(web.selects(PacketView::parse(kTcp80), state));
  EXPECT_FALSE(web.selects(PacketView::parse(kTcp81), state));
  // A header it cannot read leaves the packet unselected, not dropped.
  const auto cut = std::vector<std::uint8_t>(kTcp80.begin(), kTcp80.begin() + 22);
  EXPECT_FALSE(web.selects(PacketView::parse(cut), state));
  EXPECT_FALSE(state.hotdrop);
  EXPECT_THROW(TraceSelector(Json::parse(R"({"connlimit": {"above": 2}})")), FieldError);
  EXPECT_THROW(TraceSelector(Json::parse(R"({"dport": 80})")), FieldError);
  EXPECT_THROW(TraceSelector(Json::parse("[1]")), FieldError);
}

TEST(Trace, SelectionsAddTheirReaders) {
  auto rs = test::with_state(kChains);
  const TraceSelector web(Json::parse(R"({"protocol": "tcp", "dport": 80})"));
  const std::array<TraceSelection, 1> selections = {{{&web, 4}}};
  PacketTrace trace;
  HookPacket packet;
  packet.hook = Hook::kForward;
  packet.packet = PacketView::parse(kTcp80);
  packet.trace = &trace;
  packet.trace_selections = selections;
  std::vector<std::uint8_t> rewritten;
  run_hook(PipelineRules(*rs.ruleset, *rs.state), packet, nullptr, rewritten);
  EXPECT_EQ(trace.readers, 4U);
  EXPECT_FALSE(trace.steps.empty());
}

TEST(Trace, AFingerprintKnowsAPacketAgainAfterNatAndMangle) {
  const auto segment = [](std::uint32_t seq, const char* destination, std::uint16_t dport,
                          std::uint8_t ttl) {
    return test::ipv4(6,
                      test::tcp_header({.sport = 40000, .dport = dport, .flags = 0x18,
                                        .seq = seq, .ack = 9, .payload = 10}),
                      {.source = "10.0.0.5", .destination = destination, .ttl = ttl, .id = 77});
  };
  const auto at_prerouting = segment(1000, "10.0.0.1", 8080, 64);
  const auto at_forward = segment(1000, "10.0.0.2", 80, 63);  // DNATed, TTL decremented
  const auto next = segment(1010, "10.0.0.1", 8080, 64);
  EXPECT_EQ(trace_fingerprint(PacketView::parse(at_prerouting)),
            trace_fingerprint(PacketView::parse(at_forward)));
  EXPECT_NE(trace_fingerprint(PacketView::parse(at_prerouting)),
            trace_fingerprint(PacketView::parse(next)));
  // Short and odd packets are hashed too, never read past their end.
  const std::vector<std::uint8_t> junk = {0x45, 0x00};
  EXPECT_EQ(trace_fingerprint(PacketView::parse(junk)), trace_fingerprint(PacketView::parse(junk)));
}

}  // namespace
}  // namespace verdictd
