// The mangle targets TOS, DSCP, TTL, HL, TCPMSS and ECN: each rewrite against
// the packet the kernel's target leaves (checksums recomputed from scratch by
// nat_packets.hpp's sealed(), where the targets update them incrementally),
// when they leave a packet alone, their errors, their iptables text, and a
// rewrite seen by the later rules and handed back with the verdict.
#include <gtest/gtest.h>

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension/working_packet.hpp"
#include "extension_builders.hpp"
#include "nat_packets.hpp"
#include "packets.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

using test::build_error;
using test::Bytes;
using test::sealed;

// A target written in a rule with `match_text` as its "match" object.
std::unique_ptr<Target> built(const std::string& target_text, const std::string& match_text = "{}",
                              TableId table = TableId::kMangle) {
  return build_target(Json::parse(target_text), Json::parse(match_text), table);
}

std::string target_error(const std::string& target_text, const std::string& match_text,
                         TableId table = TableId::kMangle) {
  try {
    built(target_text, match_text, table);
  } catch (const FieldError& e) {
    return e.what();
  }
  return "built";
}

class FixedMtus final : public InterfaceMtus {
 public:
  FixedMtus(std::uint32_t in, std::uint32_t out) : in_(in), out_(out) {}
  [[nodiscard]] std::uint32_t mtu_of(std::uint32_t ifindex) const override {
    return ifindex == 1 ? in_ : ifindex == 2 ? out_ : 0;
  }

 private:
  std::uint32_t in_;
  std::uint32_t out_;
};

struct Applied {
  TargetAction action = TargetAction::kContinue;
  bool rewritten = false;
  Bytes bytes;  // the packet after the target
};

// `packet` through `target` at FORWARD, from ifindex 1 to ifindex 2.
Applied run_target(const Target& target, const Bytes& packet,
                   ChecksumInfo checksum = ChecksumInfo::kVerified,
                   const InterfaceMtus* mtus = nullptr) {
  PacketView view = PacketView::parse(packet);
  view.checksum = checksum;
  std::vector<std::uint8_t> buffer;
  WorkingPacket working(view, buffer, /*cut_short=*/false);
  EvalState state;
  state.hook = Hook::kForward;
  state.in_ifindex = 1;
  state.out_ifindex = 2;
  state.mtus = mtus;
  state.working = &working;
  Applied out;
  out.action = target.apply(working.view(), state);
  out.rewritten = working.rewritten();
  out.bytes.assign(working.view().bytes.begin(), working.view().bytes.end());
  return out;
}

Bytes v4_tcp(std::uint8_t tos, const test::Segment& segment, std::uint8_t ttl = 64) {
  return sealed(
      test::ipv4(ipproto::kTcp, test::tcp_header(segment),
                 {.source = "10.1.0.2", .destination = "10.2.0.2", .ttl = ttl, .tos = tos}));
}

Bytes v6_tcp(std::uint8_t traffic_class, const test::Segment& segment,
             std::uint8_t hop_limit = 64) {
  return sealed(test::ipv6(ipproto::kTcp, test::tcp_header(segment),
                           {.source = "fd01::2",
                            .destination = "fd02::2",
                            .hop_limit = hop_limit,
                            .traffic_class = traffic_class,
                            .flow_label = 0xabcde}));
}

const test::Segment kData{.sport = 40000, .dport = 80, .flags = 0x18, .seq = 7, .payload = 11};

// ---- TOS

TEST(TosTarget, EachFormClearsTheMaskThenXorsTheValueInBothFamilies) {
  struct Case {
    const char* target;
    std::uint8_t before;
    std::uint8_t after;
  };
  // A number without a mask sets the whole byte, as libxt_TOS; a name the
  // six bits above ECN (iptables-legacy-save prints 0x10/0xff and 0x10/0x3f).
  for (const Case& c : {Case{R"({"TOS": {"set_tos": "0x10"}})", 0xc3, 0x10},
                        Case{R"({"TOS": {"set_tos": "Minimize-Delay"}})", 0xc3, 0xd0},
                        Case{R"({"TOS": {"set_tos": "0x10/0xff"}})", 0xc3, 0x10},
                        Case{R"({"TOS": {"and_tos": "0x0f"}})", 0xff, 0x0f},
                        Case{R"({"TOS": {"or_tos": 3}})", 0x10, 0x13},
                        Case{R"({"TOS": {"xor_tos": "0x11"}})", 0x10, 0x01}}) {
    SCOPED_TRACE(c.target);
    const auto target = built(c.target);
    const Applied v4 = run_target(*target, v4_tcp(c.before, kData));
    EXPECT_EQ(v4.action, TargetAction::kContinue);
    EXPECT_EQ(test::hex(v4.bytes), test::hex(v4_tcp(c.after, kData)));
    const Applied v6 = run_target(*target, v6_tcp(c.before, kData));
    EXPECT_EQ(test::hex(v6.bytes), test::hex(v6_tcp(c.after, kData)));
  }
}

TEST(TosTarget, AnUnchangedTosLeavesThePacketAlone) {
  const Applied same =
      run_target(*built(R"({"TOS": {"set_tos": "Minimize-Delay"}})"), v4_tcp(0xd0, kData));
  EXPECT_FALSE(same.rewritten);
}

TEST(TosTarget, SavesEveryFormAsSetTosAndListsIt) {
  EXPECT_EQ(built(R"({"TOS": {"set_tos": "0x10"}})")->save(), "-j TOS --set-tos 0x10/0xff");
  EXPECT_EQ(built(R"({"TOS": {"set_tos": "Minimize-Delay"}})")->save(),
            "-j TOS --set-tos 0x10/0x3f");
  EXPECT_EQ(built(R"({"TOS": {"and_tos": "0x0f"}})")->save(), "-j TOS --set-tos 0x00/0xf0");
  EXPECT_EQ(built(R"({"TOS": {"or_tos": "0x08"}})")->save(), "-j TOS --set-tos 0x08/0x08");
  EXPECT_EQ(built(R"({"TOS": {"xor_tos": "0x08"}})")->save(), "-j TOS --set-tos 0x08/0x00");
  EXPECT_EQ(built(R"({"TOS": {"set_tos": "0x10"}})")->list_extra(), "TOS set 0x10/0xff");
}

TEST(TosTarget, RefusesWhatTheKernelRefuses) {
  EXPECT_NE(build_error(R"({"TOS": {"set_tos": "0x100"}})", TableId::kMangle).find("TOS value"),
            std::string::npos);
  EXPECT_NE(build_error(R"({"TOS": {"set_tos": "0x1", "or_tos": 1}})", TableId::kMangle)
                .find("at most one of"),
            std::string::npos);
  EXPECT_NE(build_error(R"({"TOS": {"set_tos": "0x10"}})", TableId::kFilter)
                .find("the filter table does not allow TOS"),
            std::string::npos);
}

// ---- DSCP

TEST(DscpTarget, SetsTheSixBitsAndKeepsEcn) {
  const Applied v4 = run_target(*built(R"({"DSCP": {"set_dscp": 10}})"), v4_tcp(0x03, kData));
  EXPECT_EQ(test::hex(v4.bytes), test::hex(v4_tcp(0x2b, kData)));
  const Applied v6 =
      run_target(*built(R"({"DSCP": {"set_dscp_class": "EF"}})"), v6_tcp(0x01, kData));
  EXPECT_EQ(test::hex(v6.bytes), test::hex(v6_tcp(0xb9, kData)));
  EXPECT_FALSE(run_target(*built(R"({"DSCP": {"set_dscp": 10}})"), v4_tcp(0x2a, kData)).rewritten);
}

TEST(DscpTarget, SavesTheNumberAClassStandsFor) {
  EXPECT_EQ(built(R"({"DSCP": {"set_dscp_class": "AF41"}})")->save(), "-j DSCP --set-dscp 0x22");
  EXPECT_EQ(built(R"({"DSCP": {"set_dscp": 46}})")->list_extra(), "DSCP set 0x2e");
  EXPECT_NE(build_error(R"({"DSCP": {"set_dscp": 64}})", TableId::kMangle).find("0-63"),
            std::string::npos);
}

// ---- TTL and HL

TEST(HopLimitTargets, SetDecrementAndIncrementSaturateAsTheKernel) {
  struct Case {
    const char* target;
    std::uint8_t before;
    std::uint8_t after;
  };
  for (const Case& c :
       {Case{R"({"TTL": {"ttl_set": 1}})", 64, 1}, Case{R"({"TTL": {"ttl_dec": 5}})", 3, 0},
        Case{R"({"TTL": {"ttl_inc": 10}})", 250, 255},
        Case{R"({"TTL": {"ttl_dec": 1}})", 64, 63}}) {
    SCOPED_TRACE(c.target);
    const Applied v4 = run_target(*built(c.target), v4_tcp(0, kData, c.before));
    EXPECT_EQ(test::hex(v4.bytes), test::hex(v4_tcp(0, kData, c.after)));
  }
  for (const Case& c :
       {Case{R"({"HL": {"hl_set": 200}})", 64, 200}, Case{R"({"HL": {"hl_dec": 70}})", 64, 0},
        Case{R"({"HL": {"hl_inc": 255}})", 1, 255}}) {
    SCOPED_TRACE(c.target);
    const Applied v6 = run_target(*built(c.target), v6_tcp(0, kData, c.before));
    EXPECT_EQ(test::hex(v6.bytes), test::hex(v6_tcp(0, kData, c.after)));
  }
}

TEST(HopLimitTargets, EachIsOfItsFamilyAndSavesAsIptables) {
  EXPECT_EQ(built(R"({"TTL": {"ttl_dec": 1}})")->family(), Family::kIPv4);
  EXPECT_EQ(built(R"({"HL": {"hl_inc": 2}})")->family(), Family::kIPv6);
  EXPECT_EQ(built(R"({"TTL": {"ttl_dec": 1}})")->save(), "-j TTL --ttl-dec 1");
  EXPECT_EQ(built(R"({"HL": {"hl_set": 9}})")->save(), "-j HL --hl-set 9");
  EXPECT_EQ(built(R"({"TTL": {"ttl_set": 9}})")->list_extra(), "TTL set to 9");
  EXPECT_EQ(built(R"({"HL": {"hl_inc": 2}})")->list_extra(), "HL increment by 2");
  EXPECT_NE(build_error(R"({"TTL": {"ttl_dec": 0}})", TableId::kMangle).find("changing by 0"),
            std::string::npos);
}

// ---- TCPMSS

constexpr const char* kSynRule = R"({"protocol": "tcp", "syn": true})";

test::Segment syn(const Bytes& options, std::size_t payload = 0) {
  return {.sport = 40000,
          .dport = 80,
          .flags = tcpflag::kSyn,
          .seq = 1,
          .payload = payload,
          .options = options};
}
Bytes with_mss(std::uint16_t mss) {
  return {2, 4, static_cast<std::uint8_t>(mss >> 8), static_cast<std::uint8_t>(mss), 4, 2, 1, 1};
}

TEST(TcpmssTarget, LowersAnMssButNeverRaisesIt) {
  const auto target = built(R"({"TCPMSS": {"set_mss": 1400}})", kSynRule);
  const Applied lowered = run_target(*target, v4_tcp(0, syn(with_mss(1460))));
  EXPECT_EQ(test::hex(lowered.bytes), test::hex(v4_tcp(0, syn(with_mss(1400)))));
  EXPECT_FALSE(run_target(*target, v4_tcp(0, syn(with_mss(1300)))).rewritten);
  const Applied v6 = run_target(*target, v6_tcp(0, syn(with_mss(1440))));
  EXPECT_EQ(test::hex(v6.bytes), test::hex(v6_tcp(0, syn(with_mss(1400)))));
}

TEST(TcpmssTarget, AddsTheOptionWhenAbsentAtMostTheDefault) {
  const auto target = built(R"({"TCPMSS": {"set_mss": 1400}})", kSynRule);
  const Bytes sack_permitted = {4, 2, 1, 1};
  const Applied v4 = run_target(*target, v4_tcp(0, syn(sack_permitted)));
  EXPECT_EQ(test::hex(v4.bytes), test::hex(v4_tcp(0, syn({2, 4, 0x02, 0x18, 4, 2, 1, 1}))));
  const Applied v6 = run_target(*target, v6_tcp(0, syn({})));
  EXPECT_EQ(test::hex(v6.bytes), test::hex(v6_tcp(0, syn({2, 4, 0x04, 0xc4}))));
  // Data after the header, or a header already full: left as it is.
  EXPECT_FALSE(run_target(*target, v4_tcp(0, syn({}, 10))).rewritten);
  const Bytes full(40, 1);
  EXPECT_FALSE(run_target(*target, v4_tcp(0, syn(full))).rewritten);
}

TEST(TcpmssTarget, ClampsToTheSmallerInterfaceMtuLessTheHeaders) {
  const auto target = built(R"({"TCPMSS": {"clamp_mss_to_pmtu": true}})", kSynRule);
  const FixedMtus mtus(1400, 1500);
  const Applied v4 =
      run_target(*target, v4_tcp(0, syn(with_mss(1460))), ChecksumInfo::kVerified, &mtus);
  EXPECT_EQ(test::hex(v4.bytes), test::hex(v4_tcp(0, syn(with_mss(1360)))));
  const Applied v6 =
      run_target(*target, v6_tcp(0, syn(with_mss(1440))), ChecksumInfo::kVerified, &mtus);
  EXPECT_EQ(test::hex(v6.bytes), test::hex(v6_tcp(0, syn(with_mss(1340)))));
  // An MTU unknown, or too small for the headers: dropped, as the kernel drops it.
  const FixedMtus tiny(1400, 40);
  EXPECT_EQ(
      run_target(*target, v4_tcp(0, syn(with_mss(1460))), ChecksumInfo::kVerified, &tiny).action,
      TargetAction::kDrop);
  EXPECT_EQ(run_target(*target, v4_tcp(0, syn(with_mss(1460)))).action, TargetAction::kDrop);
  EXPECT_EQ(target->allowed_hooks(),
            hook_bit(Hook::kForward) | hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting));
  EXPECT_EQ(target->save(), "-j TCPMSS --clamp-mss-to-pmtu");
  EXPECT_EQ(target->list_extra(), "TCPMSS clamp to PMTU");
}

TEST(TcpmssTarget, APartialChecksumComesBackComplete) {
  Bytes partial = v4_tcp(0, syn(with_mss(1460)));
  test::make_partial(partial);
  const Applied out = run_target(*built(R"({"TCPMSS": {"set_mss": 1400}})", kSynRule), partial,
                                 ChecksumInfo::kPartial);
  EXPECT_EQ(test::hex(out.bytes), test::hex(v4_tcp(0, syn(with_mss(1400)))));
}

TEST(TcpmssTarget, NeedsATcpRuleThatTestsSyn) {
  EXPECT_NE(target_error(R"({"TCPMSS": {"set_mss": 1400}})", "{}").find(R"("protocol": "tcp")"),
            std::string::npos);
  EXPECT_NE(target_error(R"({"TCPMSS": {"set_mss": 1400}})", R"({"protocol": "tcp"})")
                .find("only on SYN packets"),
            std::string::npos);
  EXPECT_EQ(
      target_error(R"({"TCPMSS": {"set_mss": 1400}})",
                   R"({"protocol": "tcp", "tcp_flags": {"mask": "SYN,RST", "compare": "SYN"}})",
                   TableId::kFilter),
      "built");
  EXPECT_NE(
      target_error(R"({"TCPMSS": {"set_mss": 1400}})",
                   R"({"protocol": "tcp", "tcp_flags": {"mask": "SYN,RST", "compare": "RST"}})")
          .find("only on SYN packets"),
      std::string::npos);
}

// ---- ECN

TEST(EcnTarget, RemovesTheTcpBitsAndSetsTheCodepoint) {
  const test::Segment ecn_syn{.sport = 40000,
                              .dport = 80,
                              .flags = tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr,
                              .seq = 1};
  test::Segment plain_syn = ecn_syn;
  plain_syn.flags = tcpflag::kSyn;
  const auto remove = built(R"({"ECN": {"ecn_tcp_remove": true}})", R"({"protocol": "tcp"})");
  EXPECT_EQ(test::hex(run_target(*remove, v4_tcp(0x02, ecn_syn)).bytes),
            test::hex(v4_tcp(0x02, plain_syn)));
  EXPECT_FALSE(run_target(*remove, v4_tcp(0, plain_syn)).rewritten);
  const auto both =
      built(R"({"ECN": {"ecn_tcp_ece": 1, "ecn_ip_ect": 2}})", R"({"protocol": "tcp"})");
  test::Segment ece_syn = plain_syn;
  ece_syn.flags = tcpflag::kSyn | tcpflag::kEce;
  EXPECT_EQ(test::hex(run_target(*both, v4_tcp(0xa0, plain_syn)).bytes),
            test::hex(v4_tcp(0xa2, ece_syn)));
}

TEST(EcnTarget, IsForIpv4AndItsTcpBitsForTcpRules) {
  const auto remove = built(R"({"ECN": {"ecn_tcp_remove": true}})", R"({"protocol": "tcp"})");
  EXPECT_EQ(remove->family(), Family::kIPv4);
  EXPECT_EQ(remove->save(), "-j ECN --ecn-tcp-remove");
  EXPECT_EQ(remove->list_extra(), "ECN TCP remove");
  EXPECT_EQ(
      built(R"({"ECN": {"ecn_tcp_ece": 0, "ecn_ip_ect": 1}})", R"({"protocol": "tcp"})")->save(),
      "-j ECN --ecn-tcp-ece 0 --ecn-ip-ect 1");
  EXPECT_NE(target_error(R"({"ECN": {"ecn_tcp_remove": true}})", "{}").find("protocol"),
            std::string::npos);
  EXPECT_EQ(target_error(R"({"ECN": {"ecn_ip_ect": 1}})", "{}"), "built");
  EXPECT_NE(target_error(R"({"ECN": {}})", "{}").find("needs at least one of"), std::string::npos);
}

// ---- What a verdict cannot carry

TEST(RefusedTargets, SayWhyTheyAreNotSupported) {
  EXPECT_NE(build_error(R"("CLASSIFY")")
                .find("CLASSIFY is not supported: it sets the packet's "
                      "priority"),
            std::string::npos);
  for (const char* name : {"SECMARK", "CONNSECMARK", "TEE"}) {
    EXPECT_NE(build_error("\"" + std::string(name) + "\"").find("NFQUEUE verdict"),
              std::string::npos)
        << name;
  }
  EXPECT_NE(build_error(R"("NOSUCH")").find("unknown target"), std::string::npos);
}

// ---- In the pipeline

TEST(MangleInThePipeline, LaterRulesSeeTheRewriteAndItGoesBackWithTheVerdict) {
  const test::RulesetWithState rules = test::with_state(R"({"tables": {
    "mangle": {"FORWARD": {"rules": [
      {"target": {"TTL": {"ttl_set": 9}}},
      {"match": {"ttl": {"eq": 9}}, "target": {"DSCP": {"set_dscp": 1}}}]}},
    "filter": {"FORWARD": {"policy": "DROP", "rules": [
      {"match": {"protocol": "tcp"}, "target": "ACCEPT"}]}}}})");
  const PipelineRules pipeline(*rules.ruleset, *rules.state);
  const Bytes packet = v4_tcp(0, kData);
  HookPacket in;
  in.hook = Hook::kForward;
  in.packet = PacketView::parse(packet);
  std::vector<std::uint8_t> rewritten;
  const HookOutcome out = run_hook(pipeline, in, nullptr, rewritten);
  EXPECT_EQ(out.verdict, Verdict::kAccept);
  EXPECT_EQ(test::hex(Bytes(out.translated.begin(), out.translated.end())),
            test::hex(v4_tcp(0x04, kData, 9)));
}

TEST(MangleInThePipeline, ADroppedPacketHandsNothingBack) {
  const test::RulesetWithState rules = test::with_state(R"({"tables": {
    "mangle": {"FORWARD": {"rules": [{"target": {"TTL": {"ttl_set": 9}}}]}},
    "filter": {"FORWARD": {"policy": "DROP"}}}})");
  const PipelineRules pipeline(*rules.ruleset, *rules.state);
  const Bytes packet = v4_tcp(0, kData);
  HookPacket in;
  in.hook = Hook::kForward;
  in.packet = PacketView::parse(packet);
  std::vector<std::uint8_t> rewritten;
  const HookOutcome out = run_hook(pipeline, in, nullptr, rewritten);
  EXPECT_EQ(out.verdict, Verdict::kDrop);
  EXPECT_TRUE(out.translated.empty());
}

}  // namespace
}  // namespace verdictd
