// `verdictctl simulate`'s pieces: the packets it builds, the way back of a
// reply, the steps of a simulated packet through jump, goto, RETURN,
// policies and DNAT, connection states made by the tracker, the exchange of
// --connection, and the text of a trace record.
#include "pipeline/simulation.hpp"

#include <gtest/gtest.h>

#include "ctl/trace_text.hpp"
#include "packet/checksum.hpp"
#include "packet/packet.hpp"
#include "ruleset/loader.hpp"

namespace verdictd {
namespace {

using Json = nlohmann::ordered_json;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

std::shared_ptr<Ruleset> scenario(const std::string& name) {
  return load_ruleset_file(VERDICTD_SOURCE_DIR "/tests/rulesets/" + name + ".json",
                           kDefaultRulesetMaxBytes);
}

// A forwarded packet from the lab's client (lan0) to its server (wan0).
Simulation forwarded(std::uint8_t protocol, std::uint16_t dport) {
  return {.hooks = {Hook::kPrerouting, Hook::kForward, Hook::kPostrouting},
          .in_interface = "lan0",
          .out_interface = "wan0",
          .packet = {.source = ip("10.1.0.2"),
                     .destination = ip("10.2.0.2"),
                     .protocol = protocol,
                     .source_port = 40000,
                     .destination_port = dport,
                     .tcp_flags = tcpflag::kSyn}};
}

// "table chain kind[ rule] outcome" of each step at `hook`, of one table.
std::vector<std::string> steps_of(const SimulationResult& result, const std::string& hook,
                                  const std::string& table) {
  std::vector<std::string> steps;
  for (const Json& record : result.records) {
    if (record["hook"] != hook) continue;
    for (const Json& step : record["steps"]) {
      if (step["table"] != table) continue;
      std::string text = step["chain"].get<std::string>() + " " + step["kind"].get<std::string>();
      if (step.contains("rule")) text += " " + step["rule"].dump();
      steps.push_back(text + " " + step["outcome"].get<std::string>());
    }
  }
  return steps;
}

// The numbers of the filter rules one record's packet matched.
Json filter_steps(const Json& record) {
  Json rules = Json::array();
  for (const Json& step : record["steps"]) {
    if (step["table"] == "filter" && step.contains("rule")) rules.push_back(step["rule"]);
  }
  return rules;
}

TEST(PacketBuilder, BuildsWhatTheParserReadsWithEveryChecksumRight) {
  for (const char* pair : {"v4", "v6"}) {
    const bool v4 = std::string(pair) == "v4";
    const PacketDescription d{.source = ip(v4 ? "10.0.0.1" : "2001:db8::1"),
                              .destination = ip(v4 ? "10.0.0.2" : "2001:db8::2"),
                              .protocol = ipproto::kTcp,
                              .source_port = 1234,
                              .destination_port = 22,
                              .tcp_flags = tcpflag::kSyn | tcpflag::kAck,
                              .ttl = 9,
                              .length = 100};
    const std::vector<std::uint8_t> bytes = build_packet(d);
    const PacketView p = PacketView::parse(bytes);
    ASSERT_TRUE(p.has_network) << pair;
    EXPECT_EQ(p.source, d.source);
    EXPECT_EQ(p.destination, d.destination);
    EXPECT_EQ(p.protocol, ipproto::kTcp);
    EXPECT_EQ(p.source_port, 1234);
    EXPECT_EQ(p.destination_port, 22);
    EXPECT_EQ(p.tcp_flags, tcpflag::kSyn | tcpflag::kAck);
    EXPECT_EQ(p.ttl, 9);
    EXPECT_EQ(p.length, 100U);
    const auto transport = std::span(bytes).subspan(p.transport_offset);
    const std::uint16_t pseudo = checksum::pseudo_header_sum(
        p.source, p.destination, ipproto::kTcp, static_cast<std::uint32_t>(transport.size()));
    EXPECT_EQ(checksum::ones_sum(transport, pseudo), 0xffff) << pair << ": TCP checksum";
    if (v4) {
      EXPECT_EQ(checksum::ones_sum(std::span(bytes).first(20)), 0xffff) << "IP checksum";
    }
  }
  const std::vector<std::uint8_t> echo = build_packet({.source = ip("10.0.0.1"),
                                                       .destination = ip("10.0.0.2"),
                                                       .protocol = ipproto::kIcmp,
                                                       .icmp_type = 8});
  const PacketView p = PacketView::parse(echo);
  EXPECT_TRUE(p.has_icmp);
  EXPECT_EQ(p.icmp_type, 8);
  EXPECT_EQ(checksum::ones_sum(std::span(echo).subspan(20)), 0xffff) << "ICMP checksum";
}

TEST(Simulation, AReplyGoesTheWayBack) {
  using H = Hook;
  EXPECT_EQ(reply_hooks({H::kPrerouting, H::kInput}), (std::vector{H::kOutput, H::kPostrouting}));
  EXPECT_EQ(reply_hooks({H::kPrerouting, H::kForward, H::kPostrouting}),
            (std::vector{H::kPrerouting, H::kForward, H::kPostrouting}));
  EXPECT_EQ(reply_hooks({H::kOutput}), (std::vector{H::kInput}));
}

TEST(Simulation, JumpGotoReturnAndPolicyListExactlyTheRulesMatched) {
  const auto ruleset = scenario("chains");
  // 8084: jump tcp_in, goto tcp_more, its end returns past tcp_in to FORWARD.
  SimulationResult result = simulate(*ruleset, forwarded(ipproto::kTcp, 8084));
  EXPECT_TRUE(result.accepted);
  EXPECT_EQ(steps_of(result, "FORWARD", "filter"),
            (std::vector<std::string>{"FORWARD rule 2 jump", "tcp_in rule 4 goto",
                                      "tcp_more return return", "FORWARD rule 4 accept"}));
  // 8081: RETURN from tcp_in.
  result = simulate(*ruleset, forwarded(ipproto::kTcp, 8081));
  EXPECT_EQ(steps_of(result, "FORWARD", "filter"),
            (std::vector<std::string>{"FORWARD rule 2 jump", "tcp_in rule 2 return",
                                      "FORWARD rule 3 accept"}));
  // 9004: two nested chains end, then the policy drops.
  result = simulate(*ruleset, forwarded(ipproto::kUdp, 9004));
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(steps_of(result, "FORWARD", "filter"),
            (std::vector<std::string>{"FORWARD rule 5 jump", "udp_in rule 2 jump",
                                      "udp_deep rule 3 continue", "udp_deep return return",
                                      "udp_in return return", "FORWARD policy drop"}));
  EXPECT_EQ(result.records.size(), 2U) << "dropped at FORWARD: POSTROUTING never sees it";
  Simulation established = forwarded(ipproto::kUdp, 9004);
  established.state = SimulatedState::kEstablished;
  EXPECT_EQ(simulate(*ruleset, established).notes.size(), 1U)
      << "chains.json reads no state: --ctstate is said to change nothing";
  EXPECT_EQ(result.records.back()["verdict"], "DROP");
}

TEST(Simulation, DnatRewritesThePacketTheNextHooksSee) {
  const auto ruleset = scenario("nat_port_forward");
  Simulation s = forwarded(ipproto::kTcp, 8080);
  s.packet.destination = ip("10.1.0.1");
  const SimulationResult result = simulate(*ruleset, s);
  EXPECT_TRUE(result.accepted);
  const Json& prerouting = result.records.at(0)["steps"];
  ASSERT_EQ(prerouting.size(), 2U) << prerouting.dump();  // the DNAT rule, then the rewrite
  EXPECT_EQ(prerouting[0]["table"], "nat");
  EXPECT_EQ(prerouting[0]["rule"], 1);
  EXPECT_EQ(prerouting[0]["action"], "DNAT --to-destination 10.2.0.2:80");
  EXPECT_EQ(prerouting[0]["outcome"], "accept");
  EXPECT_EQ(prerouting[1]["kind"], "nat");
  EXPECT_EQ(prerouting[1]["changes"]["destination"], Json::array({"10.1.0.1", "10.2.0.2"}));
  EXPECT_EQ(prerouting[1]["changes"]["dport"], Json::array({8080, 80}));
  // FORWARD sees the rewritten packet, one hop shorter: the ctstate DNAT
  // rule does not drop it.
  const Json& forward = result.records.at(1);
  EXPECT_EQ(forward["packet"]["destination"], "10.2.0.2");
  EXPECT_EQ(forward["packet"]["ttl"], 63);
  EXPECT_EQ(steps_of(result, "FORWARD", "filter"),
            (std::vector<std::string>{"FORWARD policy accept"}));
}

TEST(Simulation, MasqueradeTakesTheOutAddressGivenAndSaysWhenNoneWas) {
  const auto ruleset = scenario("nat_gateway");
  Simulation s = forwarded(ipproto::kUdp, 53);
  SimulationResult result = simulate(*ruleset, s);
  EXPECT_FALSE(result.accepted) << "no address to masquerade to: the kernel drops";
  EXPECT_EQ(result.notes, std::vector<std::string>{
                              "MASQUERADE needs the interface's IPv4 address: give --out-address"});
  s.out_address = ip("10.2.0.1");
  result = simulate(*ruleset, s);
  EXPECT_TRUE(result.accepted);
  EXPECT_TRUE(result.notes.empty());
  EXPECT_EQ(result.records.back()["steps"].back()["changes"]["source"],
            Json::array({"10.1.0.2", "10.2.0.1"}));
}

TEST(Simulation, TheStateComesFromTheTracker) {
  const auto ruleset = load_ruleset_text(R"({"tables": {"filter": {"INPUT": {"policy": "DROP",
      "rules": [{"match": {"ctstate": "ESTABLISHED,RELATED"}, "target": "ACCEPT"},
                {"match": {"ctstate": "UNTRACKED"}, "target": "ACCEPT"}]}}}})",
                                         "t");
  Simulation s{.hooks = {Hook::kPrerouting, Hook::kInput},
               .in_interface = "eth0",
               .packet = {.source = ip("10.0.0.1"),
                          .destination = ip("10.0.0.2"),
                          .protocol = ipproto::kTcp,
                          .source_port = 40000,
                          .destination_port = 22,
                          .tcp_flags = tcpflag::kSyn}};
  EXPECT_FALSE(simulate(*ruleset, s).accepted) << "a first SYN is NEW";
  s.state = SimulatedState::kNew;
  EXPECT_FALSE(simulate(*ruleset, s).accepted);
  s.state = SimulatedState::kEstablished;
  s.packet.tcp_flags = tcpflag::kAck;
  EXPECT_TRUE(simulate(*ruleset, s).accepted);
  s.state = SimulatedState::kRelated;
  const SimulationResult related = simulate(*ruleset, s);
  EXPECT_TRUE(related.accepted);
  EXPECT_EQ(related.records[0]["packet"]["protocol"], "icmp");
  EXPECT_EQ(related.records[0]["packet"]["source"], "10.0.0.2") << "the destination answers";
  s.state = SimulatedState::kUntracked;
  EXPECT_TRUE(simulate(*ruleset, s).accepted);
  s.state = SimulatedState::kInvalid;
  s.packet.tcp_flags = tcpflag::kSyn | tcpflag::kFin;
  EXPECT_FALSE(simulate(*ruleset, s).accepted);
  // A state the tracker does not give the packet is refused, not faked.
  s.packet.tcp_flags = tcpflag::kSyn;
  EXPECT_THROW(simulate(*ruleset, s), SimulationError);
  s.state = SimulatedState::kEstablished;
  s.packet.protocol = ipproto::kIcmp;
  s.packet.icmp_type = 3;  // an error of no connection is never ESTABLISHED
  EXPECT_THROW(simulate(*ruleset, s), SimulationError);
}

TEST(Simulation, AConnectionPlaysSynSynAckAckTheReplyTheWayBack) {
  const auto ruleset = load_ruleset_text(R"({"tables": {"filter": {
      "INPUT": {"policy": "DROP", "rules": [
        {"match": {"ctstate": "ESTABLISHED"}, "target": "ACCEPT"},
        {"match": {"protocol": "tcp", "dport": 22, "ctstate": "NEW"}, "target": "ACCEPT"}]},
      "OUTPUT": {"policy": "DROP", "rules": [
        {"match": {"ctstate": "ESTABLISHED"}, "target": "ACCEPT"}]}}}})",
                                         "t");
  Simulation s{.hooks = {Hook::kInput},
               .in_interface = "eth0",
               .packet = {.source = ip("10.0.0.1"),
                          .destination = ip("10.0.0.2"),
                          .protocol = ipproto::kTcp,
                          .source_port = 40000,
                          .destination_port = 22},
               .connection = true};
  SimulationResult result = simulate(*ruleset, s);
  EXPECT_TRUE(result.accepted);
  ASSERT_EQ(result.records.size(), 3U);
  EXPECT_EQ(result.records[0]["packet"]["tcp_flags"], "SYN");
  EXPECT_EQ(result.records[1]["hook"], "OUTPUT");
  EXPECT_EQ(result.records[1]["out"], "eth0");
  EXPECT_EQ(result.records[1]["packet"]["tcp_flags"], "SYN,ACK");
  EXPECT_EQ(result.records[1]["packet"]["source"], "10.0.0.2");
  EXPECT_EQ(filter_steps(result.records[0]), Json::array({2})) << "the SYN is NEW";
  EXPECT_EQ(filter_steps(result.records[1]), Json::array({1})) << "the reply is ESTABLISHED";
  EXPECT_EQ(result.records[2]["packet"]["tcp_flags"], "ACK");
  EXPECT_EQ(filter_steps(result.records[2]), Json::array({1}));
  s.packet.destination_port = 23;
  result = simulate(*ruleset, s);
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(result.records.size(), 1U) << "a dropped SYN gets no answer";
}

TEST(TraceText, ADropNamesWhatDecidedIt) {
  const Json by_rule = Json::parse(R"({"time": "2026-12-05T23:50:01.123Z", "hook": "INPUT",
      "in": "eth0", "out": "", "packet": {"family": 4, "protocol": "tcp", "source": "10.0.0.5",
      "destination": "10.0.0.1", "sport": 40000, "dport": 23, "tcp_flags": "SYN", "length": 40},
      "by": {"kind": "rule", "table": "filter", "chain": "INPUT", "rule": 1,
             "comment": "no telnet", "action": "DROP", "location": "r.json:2:5"}})");
  EXPECT_EQ(drop_text(by_rule),
            "2026-12-05T23:50:01.123Z INPUT IN=eth0 OUT= tcp 10.0.0.5:40000 > 10.0.0.1:23 [SYN] "
            "length 40 by filter INPUT rule 1 \"no telnet\" r.json:2:5 DROP\n");
  Json by_policy = by_rule;
  by_policy["by"] = Json::parse(R"({"kind": "policy", "table": "filter", "chain": "INPUT",
      "action": "DROP", "location": "r.json:1:30"})");
  EXPECT_TRUE(drop_text(by_policy).ends_with(" by filter INPUT policy r.json:1:30 DROP\n"));
  by_policy["by"] = Json::parse(R"({"kind": "conntrack table full"})");
  EXPECT_TRUE(drop_text(by_policy).ends_with(" by conntrack table full\n"));
}

TEST(TraceText, ReadsLikeXtablesMonitorNamingTheRulesPlace) {
  const Json record = Json::parse(R"({"hook": "PREROUTING", "in": "lan0", "out": "",
      "packet": {"family": 4, "protocol": "tcp", "source": "10.1.0.2", "destination": "10.1.0.1",
                 "sport": 40000, "dport": 8080, "tcp_flags": "SYN", "length": 40, "ttl": 64,
                 "tos": "0x0", "mark": "0x0"},
      "steps": [
        {"kind": "rule", "table": "mangle", "chain": "PREROUTING", "rule": 2, "comment": "tag",
         "location": "r.json:7:11", "action": "MARK set 0x1", "outcome": "continue",
         "changes": {"mark": ["0x0", "0x1"]}},
        {"kind": "rule", "table": "nat", "chain": "PREROUTING", "rule": 1,
         "location": "r.json:12:11", "action": "DNAT to:10.2.0.2:80", "outcome": "accept"},
        {"kind": "nat", "table": "nat", "outcome": "continue",
         "changes": {"destination": ["10.1.0.1", "10.2.0.2"], "dport": [8080, 80]}},
        {"kind": "policy", "table": "filter", "chain": "FORWARD", "location": "r.json:3:5",
         "outcome": "drop"}],
      "verdict": "DROP"})");
  EXPECT_EQ(trace_text(record),
            "PREROUTING IN=lan0 OUT= tcp 10.1.0.2:40000 > 10.1.0.1:8080 [SYN] length 40 ttl 64 "
            "tos 0x0 mark 0x0\n"
            "  mangle PREROUTING rule 2 \"tag\" r.json:7:11 MARK set 0x1 -> continue, mark 0x0 "
            "-> 0x1\n"
            "  nat PREROUTING rule 1 r.json:12:11 DNAT to:10.2.0.2:80 -> accept\n"
            "  nat translated -> continue, destination 10.1.0.1 -> 10.2.0.2, dport 8080 -> 80\n"
            "  filter FORWARD policy r.json:3:5 -> drop\n"
            "verdict DROP\n");
  const Json v6 = {{"hook", "INPUT"},
                   {"in", "eth0"},
                   {"out", ""},
                   {"packet",
                    {{"protocol", "ipv6-icmp"},
                     {"source", "2001:db8::1"},
                     {"destination", "2001:db8::2"},
                     {"icmp_type", 128},
                     {"icmp_code", 0}}},
                   {"steps", Json::array()},
                   {"verdict", "ACCEPT"}};
  EXPECT_EQ(trace_text(v6),
            "INPUT IN=eth0 OUT= ipv6-icmp 2001:db8::1 > 2001:db8::2 type 128 code 0\n"
            "verdict ACCEPT\n");
}

}  // namespace
}  // namespace verdictd
