// REJECT: the answers it builds, field by field against packets assembled
// with packets.hpp and sealed with the reference checksums (nat_packets.hpp),
// what it never answers, and the target as rules load, list and save it
// (iptables 1.8.9's and ip6tables' words).
#include <gtest/gtest.h>

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "loader_errors.hpp"
#include "nat_packets.hpp"
#include "packet/byte_order.hpp"
#include "packet/reject_reply.hpp"
#include "packets.hpp"
#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

namespace verdictd {
namespace {

using test::Bytes;
using test::concat;
using test::ipv4;
using test::ipv6;
using test::sealed;
using test::Segment;
using test::tcp_header;
using test::udp_header;

constexpr std::uint8_t kSyn = tcpflag::kSyn;
constexpr std::uint8_t kAck = tcpflag::kAck;
constexpr std::uint8_t kRst = tcpflag::kRst;
constexpr std::uint8_t kFin = tcpflag::kFin;

Bytes reset_for(const Bytes& original, std::uint8_t hop_limit = 64) {
  Bytes out;
  EXPECT_TRUE(build_tcp_reset(PacketView::parse(original), hop_limit, out));
  return out;
}

Bytes unreachable_for(const Bytes& original, std::uint8_t code,
                      std::optional<IpAddress> source = std::nullopt) {
  Bytes out;
  EXPECT_TRUE(build_unreachable(PacketView::parse(original), code, source, 64, out));
  return out;
}

bool answers_with_reset(const Bytes& original) {
  Bytes out{1};
  const bool built = build_tcp_reset(PacketView::parse(original), 64, out);
  EXPECT_EQ(built, !out.empty());
  return built;
}

bool answers_with_error(const Bytes& original) {
  Bytes out{1};
  const bool built = build_unreachable(PacketView::parse(original), 3, std::nullopt, 64, out);
  EXPECT_EQ(built, !out.empty());
  return built;
}

IpAddress address(const char* text) { return *IpAddress::parse(text); }

// ---- The RST (nf_reject_ip_tcphdr_put, nf_reject_ip6_tcphdr_put).

TEST(RejectReset, SynIsAnsweredWithRstAckOfItsSequencePlusOne) {
  const Bytes syn = sealed(ipv4(6,
                                tcp_header({.sport = 40000,
                                            .dport = 80,
                                            .flags = kSyn,
                                            .seq = 1000,
                                            .options = test::syn_options(7)}),
                                {.source = "10.0.0.1", .destination = "10.0.0.2", .id = 77}));
  const Bytes expected = sealed(ipv4(
      6,
      tcp_header(
          {.sport = 80, .dport = 40000, .flags = kRst | kAck, .seq = 0, .ack = 1001, .window = 0}),
      {.source = "10.0.0.2", .destination = "10.0.0.1", .dont_fragment = true}));
  EXPECT_EQ(reset_for(syn), expected);
}

TEST(RejectReset, SegmentWithAckIsAnsweredWithRstAtItsAcknowledgment) {
  const Bytes data = sealed(ipv4(6,
                                 tcp_header({.sport = 40000,
                                             .dport = 80,
                                             .flags = kAck,
                                             .seq = 5000,
                                             .ack = 0xfffffff0,
                                             .payload = 100}),
                                 {.source = "10.0.0.1", .destination = "10.0.0.2"}));
  const Bytes expected = sealed(ipv4(
      6, tcp_header({.sport = 80, .dport = 40000, .flags = kRst, .seq = 0xfffffff0, .window = 0}),
      {.source = "10.0.0.2", .destination = "10.0.0.1", .ttl = 9, .dont_fragment = true}));
  EXPECT_EQ(reset_for(data, 9), expected);
}

TEST(RejectReset, AcknowledgesPayloadAndFinAndWrapsAround) {
  const Bytes fin = sealed(
      ipv4(6, tcp_header({.sport = 1, .dport = 2, .flags = kFin, .seq = 0xffffffff, .payload = 10}),
           {.source = "10.0.0.1", .destination = "10.0.0.2"}));
  const PacketView rst = PacketView::parse(reset_for(fin));
  EXPECT_EQ(read32(rst.bytes, 20 + 8), 10U);  // 0xffffffff + 1 + 10
  EXPECT_EQ(rst.tcp_flags, kRst | kAck);
}

TEST(RejectReset, Ipv6) {
  const Bytes syn =
      sealed(ipv6(6, tcp_header({.sport = 40000, .dport = 22, .flags = kSyn, .seq = 7}),
                  {.source = "fd00:1::2",
                   .destination = "fd00:2::2",
                   .traffic_class = 0xb8,
                   .flow_label = 0x12345}));
  const Bytes expected = sealed(ipv6(
      6, tcp_header({.sport = 22, .dport = 40000, .flags = kRst | kAck, .ack = 8, .window = 0}),
      {.source = "fd00:2::2", .destination = "fd00:1::2", .hop_limit = 255}));
  EXPECT_EQ(reset_for(syn, 255), expected);
}

TEST(RejectReset, NeverForRstFragmentsOtherProtocolsOrNonUnicastIpv6) {
  const Segment syn{.sport = 1, .dport = 2, .flags = kSyn};
  EXPECT_TRUE(answers_with_reset(ipv4(6, tcp_header(syn))));
  EXPECT_FALSE(answers_with_reset(ipv4(6, tcp_header({.sport = 1, .dport = 2, .flags = kRst}))));
  EXPECT_FALSE(
      answers_with_reset(ipv4(6, tcp_header({.sport = 1, .dport = 2, .flags = kRst | kAck}))));
  EXPECT_FALSE(answers_with_reset(ipv4(6, tcp_header(syn), {.fragment_offset = 3})));
  EXPECT_FALSE(answers_with_reset(ipv4(17, udp_header(1, 2))));
  EXPECT_FALSE(answers_with_reset(test::slice(ipv4(6, tcp_header(syn)), 0, 30)));
  EXPECT_TRUE(answers_with_reset(ipv6(6, tcp_header(syn))));
  EXPECT_FALSE(answers_with_reset(ipv6(6, tcp_header(syn), {.destination = "ff02::1"})));
  EXPECT_FALSE(answers_with_reset(ipv6(6, tcp_header(syn), {.source = "::"})));
  EXPECT_FALSE(answers_with_reset(
      test::ipv6_fragment(6, "2001:db8::1", "2001:db8::2", tcp_header(syn), 8, false)));
}

// ---- The ICMP errors (icmp_send, icmp6_send).

TEST(RejectUnreachable, Ipv4QuotesThePacketUnderInternetControlPrecedence) {
  const Bytes udp = sealed(ipv4(17, udp_header(5000, 53, 30),
                                {.source = "10.0.1.2",
                                 .destination = "10.0.2.2",
                                 .ttl = 63,
                                 .id = 0x4242,
                                 .tos = 0xb8,
                                 .dont_fragment = true}));
  const Bytes expected = sealed(ipv4(1, concat({{3, 3, 0, 0, 0, 0, 0, 0}, udp}),
                                     {.source = "10.0.2.2",
                                      .destination = "10.0.1.2",
                                      .tos = 0xd8}));  // 0xb8's TOS bits 0x18, precedence 6
  EXPECT_EQ(unreachable_for(udp, 3, address("10.0.2.2")), expected);
}

TEST(RejectUnreachable, SourceLeftToTheRouteIsFilledInWithChecksums) {
  const Bytes udp = sealed(ipv4(17, udp_header(5000, 53), {.source = "10.0.1.2"}));
  Bytes reply = unreachable_for(udp, 13);
  EXPECT_EQ(reply_source(reply), address("0.0.0.0"));
  EXPECT_EQ(reply_destination(reply), address("10.0.1.2"));
  set_reply_source(reply, address("10.0.1.1"));
  EXPECT_EQ(reply, sealed(ipv4(1, concat({{3, 13, 0, 0, 0, 0, 0, 0}, udp}),
                               {.source = "10.0.1.1", .destination = "10.0.1.2", .tos = 0xc0})));

  const Bytes udp6 = sealed(ipv6(17, udp_header(5000, 53), {.source = "fd00:1::2"}));
  Bytes reply6 = unreachable_for(udp6, 4);
  EXPECT_EQ(reply_source(reply6), address("::"));
  set_reply_source(reply6, address("fd00:1::1"));
  EXPECT_EQ(reply6, sealed(ipv6(58, concat({{1, 4, 0, 0, 0, 0, 0, 0}, udp6}),
                                {.source = "fd00:1::1", .destination = "fd00:1::2"})));
}

TEST(RejectUnreachable, QuotesUpTo576BytesForIpv4And1280ForIpv6) {
  const Bytes big4 = sealed(ipv4(17, udp_header(1, 2, 1400)));
  const Bytes reply4 = unreachable_for(big4, 3, address("10.0.0.2"));
  EXPECT_EQ(reply4.size(), 576U);
  EXPECT_EQ(Bytes(reply4.begin() + 28, reply4.end()), test::slice(big4, 0, 548));
  EXPECT_EQ(PacketView::parse(reply4).length, 576U);

  const Bytes big6 = sealed(ipv6(17, udp_header(1, 2, 1400)));
  const Bytes reply6 = unreachable_for(big6, 4, address("2001:db8::2"));
  EXPECT_EQ(reply6.size(), 1280U);
  EXPECT_EQ(Bytes(reply6.begin() + 48, reply6.end()), test::slice(big6, 0, 1232));

  const Bytes small = sealed(ipv4(17, udp_header(1, 2)));
  EXPECT_EQ(unreachable_for(small, 3, address("10.0.0.2")).size(), 20U + 8 + small.size());
}

TEST(RejectUnreachable, NeverForErrorsFragmentsOrNonUnicastSources) {
  EXPECT_TRUE(answers_with_error(ipv4(17, udp_header(1, 2))));
  // ICMP: queries are answered, errors and unknown types are not.
  for (const std::uint8_t type : {0, 8, 13, 14, 15, 16, 17, 18}) {
    EXPECT_TRUE(answers_with_error(ipv4(1, test::icmp_message(type, 0)))) << int{type};
  }
  for (const std::uint8_t type : {1, 3, 4, 5, 11, 12, 19, 42}) {
    EXPECT_FALSE(answers_with_error(ipv4(1, test::icmp_message(type, 0)))) << int{type};
  }
  EXPECT_TRUE(answers_with_error(ipv6(58, test::icmp_message(128, 0))));
  EXPECT_TRUE(answers_with_error(ipv6(58, test::icmp_message(135, 0))));
  EXPECT_FALSE(answers_with_error(ipv6(58, test::icmp_message(1, 4))));
  EXPECT_FALSE(answers_with_error(ipv6(58, test::icmp_message(127, 0))));
  // The first fragment is answered, the others not.
  EXPECT_TRUE(answers_with_error(ipv4(17, udp_header(1, 2), {.more_fragments = true})));
  EXPECT_FALSE(answers_with_error(ipv4(17, udp_header(1, 2), {.fragment_offset = 1})));
  EXPECT_FALSE(answers_with_error(
      test::ipv6_fragment(17, "2001:db8::1", "2001:db8::2", udp_header(1, 2), 8, false)));
  EXPECT_FALSE(answers_with_error(ipv4(17, udp_header(1, 2), {.source = "0.0.0.0"})));
  EXPECT_FALSE(answers_with_error(ipv4(17, udp_header(1, 2), {.source = "224.0.0.5"})));
  EXPECT_FALSE(answers_with_error(ipv6(17, udp_header(1, 2), {.source = "::"})));
  EXPECT_FALSE(answers_with_error(ipv6(17, udp_header(1, 2), {.source = "ff02::1"})));
}

// ---- The target.

std::unique_ptr<Target> reject(const std::string& target, const std::string& match = "{}") {
  return build_target(Json::parse(target), Json::parse(match), TableId::kFilter);
}

std::string reject_error(const std::string& target, const std::string& match = "{}",
                         TableId table = TableId::kFilter) {
  try {
    build_target(Json::parse(target), Json::parse(match), table);
  } catch (const FieldError& e) {
    return e.pointer_suffix + ": " + e.what();
  }
  return "built";
}

// The target's text for each family: "LIST | SAVE".
std::string texts(const Target& target, Family family) {
  return target.list_extra_for(family) + " | " + target.save_for(family);
}

TEST(RejectTarget, DefaultIsEachFamilysPortUnreachable) {
  const auto target = reject(R"("REJECT")");
  EXPECT_EQ(target->family(), std::nullopt);
  EXPECT_EQ(texts(*target, Family::kIPv4),
            "reject-with icmp-port-unreachable | -j REJECT --reject-with icmp-port-unreachable");
  EXPECT_EQ(texts(*target, Family::kIPv6),
            "reject-with icmp6-port-unreachable | -j REJECT --reject-with icmp6-port-unreachable");
  EXPECT_EQ(target->allowed_hooks(),
            hook_bit(Hook::kInput) | hook_bit(Hook::kForward) | hook_bit(Hook::kOutput));
}

TEST(RejectTarget, TypesNamesAliasesAndPrefixesAsIptablesTakesThem) {
  const auto type = [](const char* written, Family family) {
    const auto target = reject(std::string(R"({"REJECT": {"reject_with": ")") + written + "\"}}",
                               R"({"protocol": "tcp"})");
    return target->list_extra_for(family);
  };
  EXPECT_EQ(type("icmp-host-prohibited", Family::kIPv4), "reject-with icmp-host-prohibited");
  EXPECT_EQ(type("host-prohib", Family::kIPv4), "reject-with icmp-host-prohibited");
  EXPECT_EQ(type("ICMP-ADMIN", Family::kIPv4), "reject-with icmp-admin-prohibited");
  EXPECT_EQ(type("net-unreach", Family::kIPv4), "reject-with icmp-net-unreachable");
  EXPECT_EQ(type("proto-unreach", Family::kIPv4), "reject-with icmp-proto-unreachable");
  EXPECT_EQ(type("net-prohib", Family::kIPv4), "reject-with icmp-net-prohibited");
  EXPECT_EQ(type("tcp-rst", Family::kIPv4), "reject-with tcp-reset");
  EXPECT_EQ(type("no-route", Family::kIPv6), "reject-with icmp6-no-route");
  EXPECT_EQ(type("adm-prohibited", Family::kIPv6), "reject-with icmp6-adm-prohibited");
  EXPECT_EQ(type("addr-unreach", Family::kIPv6), "reject-with icmp6-addr-unreachable");
  EXPECT_EQ(type("icmp6-policy-fail", Family::kIPv6), "reject-with icmp6-policy-fail");
  // Both tools take these, each for its own type.
  EXPECT_EQ(type("port-unreach", Family::kIPv4), "reject-with icmp-port-unreachable");
  EXPECT_EQ(type("port-unreach", Family::kIPv6), "reject-with icmp6-port-unreachable");
  EXPECT_EQ(type("tcp-reset", Family::kIPv6), "reject-with tcp-reset");
  EXPECT_EQ(type("icmp", Family::kIPv4), "reject-with icmp-net-unreachable");
  EXPECT_EQ(type("icmp", Family::kIPv6), "reject-with icmp6-no-route");
}

TEST(RejectTarget, TypeOfOneFamilyRestrictsTheRule) {
  EXPECT_EQ(reject(R"({"REJECT": {"reject_with": "icmp-host-unreachable"}})")->family(),
            Family::kIPv4);
  EXPECT_EQ(reject(R"({"REJECT": {"reject_with": "icmp6-adm-prohibited"}})")->family(),
            Family::kIPv6);
  EXPECT_EQ(reject(R"({"REJECT": {"reject_with": "tcp-rst"}})", R"({"protocol": "tcp"})")->family(),
            Family::kIPv4);
  EXPECT_EQ(
      reject(R"({"REJECT": {"reject_with": "tcp-reset"}})", R"({"protocol": "tcp"})")->family(),
      std::nullopt);
  // In a ruleset that covers only IPv6, an IPv4 type is refused as ip6tables refuses it.
  EXPECT_EQ(test::load_error(R"({"families": "ipv6", "tables": {"filter": {"INPUT": {"rules": [
    {"target": {"REJECT": {"reject_with": "icmp-host-prohibited"}}}]}}}})"),
            "r.json:2:16: /tables/filter/INPUT/rules/0/target: this rule applies to IPv4 only, "
            "and table filter covers only ipv6");
}

TEST(RejectTarget, Errors) {
  EXPECT_EQ(reject_error(R"({"REJECT": {"reject_with": "tcp-reset"}})"),
            R"(/REJECT/reject_with: tcp-reset needs "protocol": "tcp" in the same rule)");
  EXPECT_EQ(reject_error(R"({"REJECT": {"reject_with": "tcp-reset"}})", R"({"!protocol": "tcp"})"),
            R"(/REJECT/reject_with: tcp-reset needs "protocol": "tcp" in the same rule)");
  EXPECT_EQ(reject_error(R"({"REJECT": {"reject_with": "tcp-reset"}})", R"({"protocol": "udp"})"),
            R"(/REJECT/reject_with: tcp-reset needs "protocol": "tcp" in the same rule)");
  EXPECT_EQ(reject_error(R"({"REJECT": {"reject_with": "tcp-reset"}})", R"({"protocol": "tcp"})"),
            "built");
  EXPECT_NE(reject_error(R"({"REJECT": {"reject_with": "echo-reply"}})")
                .find("/REJECT/reject_with: expected icmp-net-unreachable, "),
            std::string::npos);
  EXPECT_NE(reject_error(R"({"REJECT": {"reject_with": ""}})").find(": expected"),
            std::string::npos);
  EXPECT_EQ(reject_error(R"("REJECT")", "{}", TableId::kMangle),
            ": the mangle table does not allow REJECT");
  EXPECT_EQ(test::load_error(R"({"tables": {"filter": {"INPUT": {"rules": [{"jump": "c"}]},
    "c": {"rules": [{"target": "REJECT"}]}}}})"),
            "loaded");
}

TEST(RejectTarget, ListAndSaveOfARulesetForEachFamily) {
  auto rs = load_ruleset_text(R"({"tables": {"filter": {"FORWARD": {"rules": [
    {"match": {"protocol": "tcp", "dport": 22}, "target": {"REJECT": {"reject_with": "tcp-reset"}}},
    {"target": "REJECT"}]}}}})",
                              "t");
  EXPECT_NE(save_ruleset(*rs, Family::kIPv4)
                .find("-A FORWARD -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"
                      "-A FORWARD -j REJECT --reject-with icmp-port-unreachable\n"),
            std::string::npos);
  EXPECT_NE(save_ruleset(*rs, Family::kIPv6)
                .find("-A FORWARD -j REJECT --reject-with icmp6-port-unreachable\n"),
            std::string::npos);
  ListOptions options;
  options.chain = "FORWARD";
  options.family = Family::kIPv6;
  EXPECT_NE(list_table(*rs, RulesetState(*rs), options)
                .find("REJECT     0    --  ::/0                 ::/0                 reject-with "
                      "icmp6-port-unreachable\n"),
            std::string::npos);
}

// What the target leaves for the daemon to send from `packet` at `hook`.
Bytes answer(const std::string& target, const std::string& match, Hook hook, const Bytes& packet,
             ChecksumInfo checksum = ChecksumInfo::kVerified) {
  const auto rule_target = reject(target, match);
  RejectReply reply;
  reply.hop_limits = {.ipv4 = 33, .ipv6 = 44};
  EvalState state;
  state.hook = hook;
  state.reply = &reply;
  PacketView view = PacketView::parse(packet);
  view.checksum = checksum;
  EXPECT_EQ(rule_target->apply(view, state), TargetAction::kDrop);
  return reply.bytes;
}

TEST(RejectTarget, DropsAndLeavesItsAnswer) {
  const Bytes udp =
      sealed(ipv4(17, udp_header(5000, 53), {.source = "10.0.1.2", .destination = "10.0.2.2"}));
  // At INPUT the answer comes from the address the packet was sent to.
  const Bytes at_input = answer(R"("REJECT")", "{}", Hook::kInput, udp);
  EXPECT_EQ(
      at_input,
      sealed(ipv4(1, concat({{3, 3, 0, 0, 0, 0, 0, 0}, udp}),
                  {.source = "10.0.2.2", .destination = "10.0.1.2", .ttl = 33, .tos = 0xc0})));
  // Forwarded, the route back picks it.
  EXPECT_EQ(reply_source(answer(R"("REJECT")", "{}", Hook::kForward, udp)), address("0.0.0.0"));

  const Bytes syn6 = sealed(ipv6(6, tcp_header({.sport = 1, .dport = 2, .flags = kSyn})));
  const Bytes rst = answer(R"({"REJECT": {"reject_with": "tcp-reset"}})", R"({"protocol": "tcp"})",
                           Hook::kForward, syn6);
  EXPECT_EQ(PacketView::parse(rst).tcp_flags, kRst | kAck);
  EXPECT_EQ(PacketView::parse(rst).ttl, 44);
}

TEST(RejectTarget, NoAnswerToBroadcastOrABadChecksumNobodyVerified) {
  const Bytes broadcast = sealed(ipv4(17, udp_header(68, 67), {.destination = "255.255.255.255"}));
  EXPECT_TRUE(answer(R"("REJECT")", "{}", Hook::kInput, broadcast).empty());
  const Bytes multicast = sealed(ipv4(17, udp_header(1, 2), {.destination = "239.1.1.1"}));
  EXPECT_TRUE(answer(R"("REJECT")", "{}", Hook::kOutput, multicast).empty());

  Bytes bad = sealed(ipv4(17, udp_header(1, 2)));
  bad[26] ^= 0x55;  // the UDP checksum
  EXPECT_TRUE(answer(R"("REJECT")", "{}", Hook::kInput, bad, ChecksumInfo::kUnverified).empty());
  EXPECT_FALSE(answer(R"("REJECT")", "{}", Hook::kInput, bad, ChecksumInfo::kVerified).empty());
  EXPECT_FALSE(answer(R"("REJECT")", "{}", Hook::kInput, sealed(ipv4(17, udp_header(1, 2))),
                      ChecksumInfo::kUnverified)
                   .empty());
}

}  // namespace
}  // namespace verdictd
