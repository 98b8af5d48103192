// The matches that read the packet's connection (state, conntrack,
// connmark, connbytes, connlimit): what they match for connections filled in
// by hand, their errors, and their listing and iptables-save text, checked
// against what iptables 1.8.9 prints for the same rules.
#include <gtest/gtest.h>

#include "conntrack/flow.hpp"
#include "conntrack/flow_table.hpp"
#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"
#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

using test::listed;
using test::saved;

using test::build;
using test::build_error;

using std::chrono::seconds;

Tuple tuple(const char* source, const char* destination, std::uint16_t sport, std::uint16_t dport,
            std::uint8_t protocol = ipproto::kTcp) {
  Tuple t;
  t.protocol = protocol;
  t.source = *IpAddress::parse(source);
  t.destination = *IpAddress::parse(destination);
  t.source_port = sport;
  t.destination_port = dport;
  t.family = t.source.family;
  return t;
}

// An established TCP connection 10.0.1.2:40000 -> 10.0.2.2:22 that expires
// in 100.5 seconds, seen in the original direction.
PacketConntrack established() {
  PacketConntrack ct;
  ct.state = CtState::kEstablished;
  ct.has_flow = true;
  ct.flow.original = tuple("10.0.1.2", "10.0.2.2", 40000, 22);
  ct.flow.reply = tuple("10.0.2.2", "10.0.1.2", 22, 40000);
  ct.flow.status = ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed;
  ct.flow.tcp_state = TcpState::kEstablished;
  ct.now = ConntrackTime(seconds(1000));
  ct.flow.expires = ct.now + std::chrono::milliseconds(100500);
  ct.flow.counters[0] = {10, 1000};
  ct.flow.counters[1] = {5, 3000};
  return ct;
}

// A packet with no connection: INVALID (or UNTRACKED after NOTRACK).
PacketConntrack without_flow(CtState state) {
  PacketConntrack ct;
  ct.state = state;
  return ct;
}

bool hits(const Match& match, PacketConntrack* ct, const test::Bytes& bytes = {}) {
  EvalState state;
  state.conntrack = ct;
  return match.matches(PacketView::parse(bytes), state);
}

// ---- -m state

TEST(ConntrackStateMatch, States) {
  auto m = build(R"({"state": "ESTABLISHED,RELATED"})", "state");
  PacketConntrack ct = established();
  EXPECT_TRUE(hits(*m, &ct));
  ct.state = CtState::kRelated;
  EXPECT_TRUE(hits(*m, &ct));
  ct.state = CtState::kNew;
  EXPECT_FALSE(hits(*m, &ct));
  EXPECT_TRUE(m->needs_conntrack());

  auto invalid = build(R"({"state": ["INVALID"]})", "state");
  EXPECT_TRUE(hits(*invalid, nullptr));  // no tracking: INVALID
  PacketConntrack none = without_flow(CtState::kInvalid);
  EXPECT_TRUE(hits(*invalid, &none));
  PacketConntrack untracked = without_flow(CtState::kUntracked);
  EXPECT_FALSE(hits(*invalid, &untracked));
  EXPECT_TRUE(hits(*build(R"({"state": "UNTRACKED"})", "state"), &untracked));

  auto not_new = build(R"({"!state": "NEW"})", "!state");
  EXPECT_FALSE(hits(*not_new, &ct));
  EXPECT_TRUE(hits(*not_new, nullptr));
}

TEST(ConntrackStateMatch, ErrorsListAndSave) {
  EXPECT_EQ(build_error(R"({"state": "SNAT"})", "state"),
            ": expected a list or comma-separated string of INVALID, NEW, RELATED, ESTABLISHED, "
            "UNTRACKED, at least one, got \"SNAT\"");
  EXPECT_EQ(build_error(R"({"state": ["NEW", "OLD"]})", "state"),
            "/1: expected a list or comma-separated string of INVALID, NEW, RELATED, "
            "ESTABLISHED, UNTRACKED, at least one, got \"OLD\"");
  EXPECT_EQ(build_error(R"({"state": []})", "state").substr(0, 11), ": expected ");
  EXPECT_EQ(build_error(R"({"state": "NEW,"})", "state").substr(0, 11), ": expected ");
  // iptables prints the states in its own order.
  auto m = build(R"({"state": "UNTRACKED,ESTABLISHED,RELATED,NEW,INVALID"})", "state");
  EXPECT_EQ(listed(*m), "state INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED");
  EXPECT_EQ(saved(*m), " -m state --state INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED");
  auto negated = build(R"({"!state": "INVALID,NEW,UNTRACKED"})", "!state");
  EXPECT_EQ(listed(*negated), "! state INVALID,NEW,UNTRACKED");
  EXPECT_EQ(saved(*negated), " -m state ! --state INVALID,NEW,UNTRACKED");
}

// ---- -m conntrack

TEST(ConntrackMatch, StateWithNatStates) {
  auto m = build(R"({"ctstate": "SNAT"})", "ctstate");
  PacketConntrack ct = established();
  EXPECT_FALSE(hits(*m, &ct));
  ct.flow.status |= ctstatus::kSrcNat;
  EXPECT_TRUE(hits(*m, &ct));
  EXPECT_FALSE(hits(*build(R"({"ctstate": "DNAT"})", "ctstate"), &ct));
  EXPECT_TRUE(hits(*build(R"({"ctstate": "ESTABLISHED"})", "ctstate"), &ct));
  EXPECT_TRUE(hits(*build(R"({"ctstate": "INVALID"})", "ctstate"), nullptr));
  PacketConntrack untracked = without_flow(CtState::kUntracked);
  EXPECT_TRUE(hits(*build(R"({"ctstate": "UNTRACKED"})", "ctstate"), &untracked));
}

TEST(ConntrackMatch, WithoutAConnectionOnlyTheStateCanMatch) {
  PacketConntrack invalid = without_flow(CtState::kInvalid);
  // No state option: nothing to test, and xt_conntrack says no, negated or not.
  EXPECT_FALSE(hits(*build(R"({"ctdir": "ORIGINAL"})", "ctdir"), &invalid));
  EXPECT_FALSE(hits(*build(R"({"!ctstatus": "ASSURED"})", "!ctstatus"), &invalid));
  EXPECT_FALSE(hits(*build(R"({"!ctproto": "udp"})", "!ctproto"), nullptr));
  // With a state option that matches, the rest is not looked at.
  EXPECT_TRUE(hits(*build(R"({"ctstate": "INVALID", "ctproto": 6})", "ctproto"), &invalid));
  EXPECT_FALSE(hits(*build(R"({"!ctstate": "INVALID", "ctproto": 6})", "ctproto"), &invalid));
}

TEST(ConntrackMatch, EveryOptionOnAConnection) {
  PacketConntrack ct = established();
  auto hit = [&](const std::string& rule, const std::string& key) {
    return hits(*build(rule, key), &ct);
  };
  EXPECT_TRUE(hit(R"({"ctproto": "tcp"})", "ctproto"));
  EXPECT_FALSE(hit(R"({"ctproto": 17})", "ctproto"));
  EXPECT_TRUE(hit(R"({"!ctproto": 17})", "!ctproto"));
  EXPECT_TRUE(hit(R"({"ctorigsrc": "10.0.1.0/24"})", "ctorigsrc"));
  EXPECT_FALSE(hit(R"({"ctorigdst": "10.0.1.0/24"})", "ctorigdst"));
  EXPECT_TRUE(hit(R"({"ctreplsrc": "10.0.2.2"})", "ctreplsrc"));
  EXPECT_TRUE(hit(R"({"!ctrepldst": "10.0.2.2"})", "!ctrepldst"));
  EXPECT_FALSE(hit(R"({"ctorigsrc": "2001:db8::/32"})", "ctorigsrc"));
  EXPECT_TRUE(hit(R"({"ctorigsrcport": "40000:40010"})", "ctorigsrcport"));
  EXPECT_TRUE(hit(R"({"ctorigdstport": 22})", "ctorigdstport"));
  EXPECT_TRUE(hit(R"({"ctreplsrcport": 22})", "ctreplsrcport"));
  EXPECT_FALSE(hit(R"({"ctrepldstport": "1:1024"})", "ctrepldstport"));
  EXPECT_TRUE(hit(R"({"!ctrepldstport": "1:1024"})", "!ctrepldstport"));
  EXPECT_TRUE(hit(R"({"ctstatus": "EXPECTED,ASSURED"})", "ctstatus"));
  EXPECT_FALSE(hit(R"({"ctstatus": "EXPECTED"})", "ctstatus"));
  EXPECT_FALSE(hit(R"({"ctstatus": "NONE"})", "ctstatus"));  // no bit is ever set in none
  EXPECT_TRUE(hit(R"({"!ctstatus": "NONE"})", "!ctstatus"));
  EXPECT_TRUE(hit(R"({"ctdir": "ORIGINAL"})", "ctdir"));
  EXPECT_FALSE(hit(R"({"ctdir": "REPLY"})", "ctdir"));
  ct.direction = Direction::kReply;
  EXPECT_TRUE(hit(R"({"ctdir": "REPLY"})", "ctdir"));
}

TEST(ConntrackMatch, ExpireCountsWholeSecondsLeft) {
  PacketConntrack ct = established();  // 100.5 s left
  EXPECT_TRUE(hits(*build(R"({"ctexpire": 100})", "ctexpire"), &ct));
  EXPECT_FALSE(hits(*build(R"({"ctexpire": 101})", "ctexpire"), &ct));
  EXPECT_TRUE(hits(*build(R"({"ctexpire": "10:100"})", "ctexpire"), &ct));
  EXPECT_FALSE(hits(*build(R"({"!ctexpire": "10:100"})", "!ctexpire"), &ct));
  ct.flow.expires = ct.now - seconds(5);  // overdue: none left
  EXPECT_TRUE(hits(*build(R"({"ctexpire": 0})", "ctexpire"), &ct));
}

TEST(ConntrackMatch, AllOptionsOfARuleAreOneModule) {
  const std::string rule =
      R"({"ctdir": "REPLY", "!ctstate": "NEW", "ctproto": "tcp", "ctorigsrc": "10.0.0.0/8"})";
  // Every ct key of the rule lands in one match, with the family of its address.
  PacketConntrack ct = established();
  for (const char* key : {"ctdir", "!ctstate", "ctproto", "ctorigsrc"}) {
    auto match = build(rule, key);
    EXPECT_EQ(saved(*match),
              " -m conntrack ! --ctstate NEW --ctproto 6 --ctorigsrc 10.0.0.0/8 --ctdir REPLY");
    EXPECT_TRUE(match->needs_conntrack());
    EXPECT_EQ(match->family(), Family::kIPv4);
  }
  EXPECT_EQ(build(R"({"ctproto": "tcp"})", "ctproto")->family(), std::nullopt);

  auto module = build(rule, "ctorigsrc");
  EXPECT_EQ(listed(*module), "! ctstate NEW ctproto 6 ctorigsrc 10.0.0.0/8 ctdir REPLY");
  EXPECT_EQ(saved(*module),
            " -m conntrack ! --ctstate NEW --ctproto 6 --ctorigsrc 10.0.0.0/8 --ctdir REPLY");
  EXPECT_FALSE(hits(*module, &ct));  // the original direction
  ct.direction = Direction::kReply;
  EXPECT_TRUE(hits(*module, &ct));
  ct.state = CtState::kNew;
  EXPECT_FALSE(hits(*module, &ct));
}

TEST(ConntrackMatch, Errors) {
  EXPECT_EQ(build_error(R"({"ctstate": "NONE"})", "ctstate"),
            ": expected a list or comma-separated string of INVALID, NEW, RELATED, ESTABLISHED, "
            "UNTRACKED, SNAT, DNAT, at least one, got \"NONE\"");
  EXPECT_EQ(build_error(R"({"ctstatus": ["ASSURED", 4]})", "ctstatus"),
            "/1: expected a list or comma-separated string of NONE, EXPECTED, SEEN_REPLY, "
            "ASSURED, CONFIRMED, at least one, got 4");
  EXPECT_EQ(build_error(R"({"ctproto": "tcpp"})", "ctproto"),
            ": expected a protocol name (tcp, udp, icmp...) or a number 0-255, got \"tcpp\"");
  EXPECT_EQ(build_error(R"({"ctorigsrc": "10.0.0.300"})", "ctorigsrc"),
            ": expected an IPv4 or IPv6 address or prefix (address/length), got \"10.0.0.300\"");
  EXPECT_EQ(build_error(R"({"ctrepldstport": 70000})", "ctrepldstport"),
            ": expected a port 0-65535 or \"lo:hi\", got 70000");
  EXPECT_EQ(build_error(R"({"ctexpire": "4:3"})", "ctexpire"),
            ": expected a range \"lo:hi\" with lo <= hi, got \"4:3\"");
  EXPECT_EQ(build_error(R"({"ctexpire": "4294967296"})", "ctexpire"),
            ": expected seconds 0-4294967295 or a range \"lo:hi\", got \"4294967296\"");
  EXPECT_EQ(build_error(R"({"ctexpire": -1})", "ctexpire"),
            ": expected seconds 0-4294967295 or a range \"lo:hi\", got -1");
  EXPECT_EQ(build_error(R"({"ctdir": "original"})", "ctdir"),
            ": expected \"ORIGINAL\" or \"REPLY\", got \"original\"");
  EXPECT_EQ(build_error(R"({"!ctdir": "ORIGINAL"})", "!ctdir"), ": \"ctdir\" cannot be negated");
  EXPECT_EQ(build_error(R"({"ctstate": "NEW", "!ctstate": "INVALID"})", "!ctstate"),
            ": \"ctstate\" is already in this rule: a rule has one conntrack match, with each "
            "option once");
}

TEST(ConntrackMatch, ListAndSaveLikeIptables) {
  // iptables-legacy -A INPUT -m conntrack ! --ctstate NEW --ctproto tcp --ctorigsrc 10.0.0.0/8
  //   --ctorigdst 10.1.2.3 --ctreplsrc 1.2.3.4/16 ! --ctrepldst 5.6.7.8/32 --ctorigsrcport 22
  //   --ctorigdstport 1000:2000 --ctreplsrcport 5 ! --ctrepldstport 6:7
  //   --ctstatus ASSURED,SEEN_REPLY --ctexpire 10:100 --ctdir REPLY
  const std::string rule = R"({"ctdir": "REPLY", "ctexpire": "10:100",
      "ctstatus": "ASSURED,SEEN_REPLY", "!ctrepldstport": "6:7", "ctreplsrcport": 5,
      "ctorigdstport": "1000:2000", "ctorigsrcport": 22, "!ctrepldst": "5.6.7.8/32",
      "ctreplsrc": "1.2.3.4/16", "ctorigdst": "10.1.2.3", "ctorigsrc": "10.0.0.0/8",
      "ctproto": "tcp", "!ctstate": "NEW"})";
  auto m = build(rule, "!ctstate");
  EXPECT_EQ(listed(*m),
            "! ctstate NEW ctproto 6 ctorigsrc 10.0.0.0/8 ctorigdst 10.1.2.3 ctreplsrc "
            "1.2.0.0/16 ! ctrepldst 5.6.7.8 ctorigsrcport 22 ctorigdstport 1000:2000 "
            "ctreplsrcport 5 ! ctrepldstport 6:7 ctstatus SEEN_REPLY,ASSURED ctexpire 10:100 "
            "ctdir REPLY");
  EXPECT_EQ(saved(*m),
            " -m conntrack ! --ctstate NEW --ctproto 6 --ctorigsrc 10.0.0.0/8 --ctorigdst "
            "10.1.2.3 --ctreplsrc 1.2.0.0/16 ! --ctrepldst 5.6.7.8 --ctorigsrcport 22 "
            "--ctorigdstport 1000:2000 --ctreplsrcport 5 ! --ctrepldstport 6:7 --ctstatus "
            "SEEN_REPLY,ASSURED --ctexpire 10:100 --ctdir REPLY");
  // -m conntrack ! --ctproto 17 ! --ctorigsrc 10.0.0.0/8 ! --ctstatus NONE ! --ctexpire 60
  //   --ctdir ORIGINAL
  auto negated = build(R"({"!ctproto": 17, "!ctorigsrc": "10.0.0.0/8", "!ctstatus": "NONE",
      "!ctexpire": 60, "ctdir": "ORIGINAL"})",
                       "ctdir");
  EXPECT_EQ(listed(*negated),
            "! ctproto 17 ! ctorigsrc 10.0.0.0/8 ! ctstatus NONE ! ctexpire 60 ctdir ORIGINAL");
  EXPECT_EQ(saved(*negated),
            " -m conntrack ! --ctproto 17 ! --ctorigsrc 10.0.0.0/8 ! --ctstatus NONE ! "
            "--ctexpire 60 --ctdir ORIGINAL");
  // -m conntrack --ctstate DNAT,SNAT,UNTRACKED,ESTABLISHED,RELATED,NEW,INVALID
  //   --ctstatus CONFIRMED,ASSURED,SEEN_REPLY,EXPECTED --ctexpire 3:3 --ctorigsrcport 22:
  auto orders = build(R"({"ctstate": "DNAT,SNAT,UNTRACKED,ESTABLISHED,RELATED,NEW,INVALID",
      "ctstatus": ["CONFIRMED", "ASSURED", "SEEN_REPLY", "EXPECTED", "NONE"], "ctexpire": "3:3",
      "ctorigsrcport": "22:"})",
                      "ctorigsrcport");
  EXPECT_EQ(saved(*orders),
            " -m conntrack --ctstate INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT "
            "--ctorigsrcport 22:65535 --ctstatus EXPECTED,SEEN_REPLY,ASSURED,CONFIRMED "
            "--ctexpire 3");
  auto v6 = build(R"({"ctorigsrc": "2001:db8::/32", "ctrepldst": "::1"})", "ctrepldst");
  EXPECT_EQ(listed(*v6), "ctorigsrc 2001:db8::/32 ctrepldst ::1");
  EXPECT_EQ(v6->family(), Family::kIPv6);
}

// ---- -m connmark

TEST(ConntrackConnmark, MarkUnderMask) {
  PacketConntrack ct = established();
  ct.flow.mark = 0x1234;
  EXPECT_TRUE(hits(*build(R"({"connmark": "0x34/0xff"})", "connmark"), &ct));
  EXPECT_FALSE(hits(*build(R"({"connmark": 52})", "connmark"), &ct));
  EXPECT_TRUE(hits(*build(R"({"connmark": 4660})", "connmark"), &ct));
  EXPECT_TRUE(hits(*build(R"({"!connmark": "0x1"})", "!connmark"), &ct));
  // No connection: no match, negated or not.
  PacketConntrack invalid = without_flow(CtState::kInvalid);
  EXPECT_FALSE(hits(*build(R"({"!connmark": "0x1"})", "!connmark"), &invalid));
  EXPECT_FALSE(hits(*build(R"({"connmark": "0/0"})", "connmark"), nullptr));
  EXPECT_TRUE(build(R"({"connmark": 1})", "connmark")->needs_conntrack());
}

TEST(ConntrackConnmark, ErrorsListAndSave) {
  EXPECT_EQ(build_error(R"({"connmark": "0x1/0x1ffffffff"})", "connmark"),
            ": expected a mark \"value\" or \"value/mask\" of 32 bits, got "
            "\"0x1/0x1ffffffff\"");
  auto m = build(R"({"connmark": "0x1"})", "connmark");
  EXPECT_EQ(listed(*m), "connmark match  0x1");
  EXPECT_EQ(saved(*m), " -m connmark --mark 0x1");
  auto masked = build(R"({"!connmark": "0x1/0xff"})", "!connmark");
  EXPECT_EQ(listed(*masked), "connmark match ! 0x1/0xff");
  EXPECT_EQ(saved(*masked), " -m connmark ! --mark 0x1/0xff");
  EXPECT_EQ(listed(*build(R"({"connmark": "0/0"})", "connmark")), "connmark match  0x0/0x0");
  EXPECT_EQ(saved(*build(R"({"connmark": "0xffffffff/0xffffffff"})", "connmark")),
            " -m connmark --mark 0xffffffff");
}

// ---- -m connbytes

std::string connbytes(const std::string& options, bool negated = false) {
  return std::string(R"({")") + (negated ? "!" : "") + R"(connbytes": )" + options + "}";
}

TEST(ConntrackConnbytes, CountersPerDirection) {
  PacketConntrack ct = established();  // original 10 packets 1000 bytes; reply 5 and 3000
  auto hit = [&](const std::string& options, bool negated = false) {
    return hits(*build(connbytes(options, negated), negated ? "!connbytes" : "connbytes"), &ct);
  };
  EXPECT_TRUE(hit(R"({"range": "10", "dir": "original", "mode": "packets"})"));
  EXPECT_FALSE(hit(R"({"range": "11", "dir": "original", "mode": "packets"})"));
  EXPECT_TRUE(hit(R"({"range": "15:15", "dir": "both", "mode": "packets"})"));
  EXPECT_TRUE(hit(R"({"range": ":3000", "dir": "reply", "mode": "bytes"})"));
  EXPECT_FALSE(hit(R"({"range": "4001:", "dir": "both", "mode": "bytes"})"));
  EXPECT_TRUE(hit(R"({"range": "600:600", "dir": "reply", "mode": "avgpkt"})"));
  EXPECT_TRUE(hit(R"({"range": "266:266", "dir": "both", "mode": "avgpkt"})"));  // 4000 / 15
  // Negated: outside the range.
  EXPECT_TRUE(hit(R"({"range": "11", "dir": "original", "mode": "packets"})", true));
  EXPECT_FALSE(hit(R"({"range": "5:20", "dir": "original", "mode": "packets"})", true));
  EXPECT_TRUE(hit(R"({"range": "11:20", "dir": "original", "mode": "packets"})", true));
  // No packets yet: an average of 0.
  ct.flow.counters = {};
  EXPECT_TRUE(hit(R"({"range": "0:0", "dir": "both", "mode": "avgpkt"})"));
  // No connection: no match, negated or not.
  PacketConntrack invalid = without_flow(CtState::kInvalid);
  EXPECT_FALSE(hits(
      *build(connbytes(R"({"range": "0", "dir": "both", "mode": "bytes"})", true), "!connbytes"),
      &invalid));
}

TEST(ConntrackConnbytes, Errors) {
  EXPECT_EQ(build_error(connbytes(R"({"range": "10", "dir": "original"})"), "connbytes"),
            R"(: "connbytes" needs "mode")");
  EXPECT_EQ(build_error(connbytes("10"), "connbytes"),
            ": expected an object with range, mode, dir, got 10");
  EXPECT_EQ(
      build_error(connbytes(R"({"range": "100:10", "dir": "both", "mode": "bytes"})"), "connbytes"),
      "/range: expected a range \"from:to\" with from <= to, got \"100:10\"");
  EXPECT_EQ(
      build_error(connbytes(R"({"range": "1x", "dir": "both", "mode": "bytes"})"), "connbytes"),
      "/range: expected a count \"from\", \"from:to\", \"from:\" or \":to\", got \"1x\"");
  EXPECT_EQ(build_error(connbytes(R"({"range": "1", "dir": "all", "mode": "bytes"})"), "connbytes"),
            "/dir: expected \"original\", \"reply\" or \"both\", got \"all\"");
  EXPECT_EQ(build_error(connbytes(R"({"range": "1", "dir": "both", "mode": "avg"})"), "connbytes"),
            "/mode: expected \"packets\", \"bytes\" or \"avgpkt\", got \"avg\"");
  EXPECT_EQ(build_error(connbytes(R"({"range": 1, "dir": "both", "mode": "bytes", "x": 1})"),
                        "connbytes"),
            "/x: unknown key \"x\"; expected range, mode, dir");
}

TEST(ConntrackConnbytes, ListAndSaveLikeIptables) {
  auto text = [](const std::string& options, bool negated = false) {
    auto m = build(connbytes(options, negated), negated ? "!connbytes" : "connbytes");
    return listed(*m) + " |" + saved(*m);
  };
  EXPECT_EQ(text(R"({"range": "10", "dir": "original", "mode": "packets"})"),
            "connbytes 10 connbytes mode packets connbytes direction original | -m connbytes "
            "--connbytes 10 --connbytes-mode packets --connbytes-dir original");
  EXPECT_EQ(text(R"({"range": "10:100", "dir": "reply", "mode": "bytes"})"),
            "connbytes 10:100 connbytes mode bytes connbytes direction reply | -m connbytes "
            "--connbytes 10:100 --connbytes-mode bytes --connbytes-dir reply");
  EXPECT_EQ(text(R"({"range": "10:", "dir": "both", "mode": "avgpkt"})", true),
            "! connbytes 10 connbytes mode avgpkt connbytes direction both | -m connbytes ! "
            "--connbytes 10 --connbytes-mode avgpkt --connbytes-dir both");
  EXPECT_EQ(text(R"({"range": ":100", "dir": "both", "mode": "avgpkt"})"),
            "connbytes 0:100 connbytes mode avgpkt connbytes direction both | -m connbytes "
            "--connbytes 0:100 --connbytes-mode avgpkt --connbytes-dir both");
  EXPECT_EQ(text(R"({"range": "10:100", "dir": "original", "mode": "packets"})", true),
            "! connbytes 10:100 connbytes mode packets connbytes direction original | -m "
            "connbytes ! --connbytes 10:100 --connbytes-mode packets --connbytes-dir original");
  EXPECT_EQ(text(R"({"range": "18446744073709551615", "dir": "original", "mode": "packets"})"),
            "connbytes 18446744073709551615 connbytes mode packets connbytes direction original "
            "| -m connbytes --connbytes 18446744073709551615 --connbytes-mode packets "
            "--connbytes-dir original");
}

// ---- -m connlimit

std::string connlimit(const std::string& options, bool negated = false) {
  return std::string(R"({")") + (negated ? "!" : "") + R"(connlimit": )" + options + "}";
}

TEST(ConntrackConnlimit, CountsLiveConnectionsPerNetwork) {
  FlowTable flows;
  const ConntrackTime now(seconds(1000));
  auto m = build(connlimit(R"({"above": 2, "mask": 24})"), "connlimit");
  const test::ExtensionSlot slot(*m);
  // A packet of the connection `sport` from `source` to 10.0.2.2:22.
  auto packet = [&](const char* source, std::uint16_t sport, bool insert = true) {
    const test::Bytes bytes = test::ipv4_packet(ipproto::kTcp, source, "10.0.2.2", sport, 22);
    PacketConntrack ct;
    ct.state = CtState::kNew;
    ct.has_flow = true;
    ct.now = now;
    ct.flow.original = tuple(source, "10.0.2.2", sport, 22);
    ct.flow.reply = tuple("10.0.2.2", source, 22, sport);
    ct.flow.tcp_state = TcpState::kSynSent;
    ct.flow.expires = now + seconds(120);
    if (insert) {
      EXPECT_EQ(flows.insert(ct.flow, now), FlowTable::Insert::kInserted);
    }
    EvalState state;
    state.conntrack = &ct;
    state.flows = &flows;
    return m->matches(PacketView::parse(bytes), slot.in(state));
  };
  EXPECT_FALSE(packet("10.0.1.2", 1000));        // 1
  EXPECT_FALSE(packet("10.0.1.3", 1001));        // 2 in 10.0.1.0/24
  EXPECT_FALSE(packet("10.0.9.2", 1000));        // 1 in 10.0.9.0/24
  EXPECT_TRUE(packet("10.0.1.4", 1002));         // 3
  EXPECT_TRUE(packet("10.0.1.4", 1002, false));  // the same connection again: still 3
  // A connection that closed (TIME_WAIT) or is gone no longer counts.
  flows.modify(tuple("10.0.1.2", "10.0.2.2", 1000, 22), now,
               [](Flow& flow, Direction) { flow.tcp_state = TcpState::kTimeWait; });
  EXPECT_FALSE(packet("10.0.1.4", 1002, false));  // 2
  EXPECT_TRUE(packet("10.0.1.5", 1003));          // 3
  flows.erase(tuple("10.0.1.3", "10.0.2.2", 1001, 22));
  EXPECT_FALSE(packet("10.0.1.5", 1003, false));  // 2
}

TEST(ConntrackConnlimit, UptoDestinationAndNegation) {
  FlowTable flows;
  auto upto = build(connlimit(R"({"upto": 1, "by": "destination"})"), "connlimit");
  auto negated = build(connlimit(R"({"above": 1, "by": "destination"})", true), "!connlimit");
  const ConntrackTime now(seconds(1000));
  for (const auto* m : {upto.get(), negated.get()}) {
    const test::ExtensionSlot slot(*m);
    std::vector<bool> results;
    for (std::uint16_t sport : {1000, 1001}) {
      PacketConntrack ct;
      ct.state = CtState::kNew;
      ct.has_flow = true;
      ct.now = now;
      ct.flow.original = tuple("10.0.1.2", "10.0.2.2", sport, 22);
      ct.flow.reply = tuple("10.0.2.2", "10.0.1.2", 22, sport);
      ct.flow.expires = now + seconds(120);
      flows.insert(ct.flow, now);
      EvalState state;
      state.conntrack = &ct;
      state.flows = &flows;
      results.push_back(m->matches(
          PacketView::parse(test::ipv4_packet(ipproto::kTcp, "10.0.1.2", "10.0.2.2", sport, 22)),
          slot.in(state)));
    }
    EXPECT_EQ(results, (std::vector<bool>{true, false}));
  }
}

TEST(ConntrackConnlimit, WithoutAConnectionThePacketCountsOnce) {
  FlowTable flows;
  auto m = build(connlimit(R"({"upto": 1})"), "connlimit");
  const test::ExtensionSlot slot(*m);
  const test::Bytes bytes = test::ipv4_packet(ipproto::kUdp, "10.0.1.2", "10.0.2.2", 5, 53);
  PacketConntrack untracked = without_flow(CtState::kUntracked);
  EvalState state;
  state.conntrack = &untracked;
  state.flows = &flows;
  slot.in(state);
  EXPECT_TRUE(m->matches(PacketView::parse(bytes), state));  // itself: 1
  EXPECT_TRUE(m->matches(PacketView::parse(bytes), state));  // still 1: the same tuple
  const test::Bytes other = test::ipv4_packet(ipproto::kUdp, "10.0.1.2", "10.0.2.2", 6, 53);
  EXPECT_TRUE(m->matches(PacketView::parse(other), state));  // the first had no flow: gone
  // A packet whose tuple cannot be read is dropped.
  const test::Bytes cut(bytes.begin(), bytes.begin() + 22);
  EXPECT_FALSE(m->matches(PacketView::parse(cut), state));
  EXPECT_TRUE(state.hotdrop);
}

TEST(ConntrackConnlimit, ErrorsListAndSave) {
  EXPECT_EQ(build_error(connlimit(R"({"above": 1, "upto": 2})"), "connlimit"),
            R"(: connlimit takes at most one of "above" or "upto")");
  EXPECT_EQ(build_error(connlimit(R"({"mask": 24})"), "connlimit"),
            R"(: connlimit needs one of "above" or "upto")");
  EXPECT_EQ(build_error(connlimit(R"({"above": -1})"), "connlimit"),
            "/above: expected a number 0-4294967295, got -1");
  EXPECT_EQ(build_error(connlimit(R"({"above": 1, "mask": 129})"), "connlimit"),
            "/mask: expected a prefix length 0-32 (IPv4) or 0-128 (IPv6), got 129");
  EXPECT_EQ(build_error(connlimit(R"({"above": 1, "by": "src"})"), "connlimit"),
            "/by: expected \"source\" or \"destination\", got \"src\"");
  auto text = [](const std::string& options, bool negated = false) {
    auto m = build(connlimit(options, negated), negated ? "!connlimit" : "connlimit");
    return listed(*m) + " |" + saved(*m);
  };
  EXPECT_EQ(text(R"({"above": 2})"),
            "#conn src/32 > 2 | -m connlimit --connlimit-above 2 --connlimit-mask 32 "
            "--connlimit-saddr");
  EXPECT_EQ(text(R"({"upto": 2, "mask": 24, "by": "destination"})"),
            "#conn dst/24 <= 2 | -m connlimit --connlimit-upto 2 --connlimit-mask 24 "
            "--connlimit-daddr");
  EXPECT_EQ(text(R"({"upto": 2, "by": "source"})", true),
            "#conn src/32 > 2 | -m connlimit --connlimit-above 2 --connlimit-mask 32 "
            "--connlimit-saddr");
  EXPECT_EQ(text(R"({"above": 2, "mask": 64, "by": "destination"})"),
            "#conn dst/64 > 2 | -m connlimit --connlimit-above 2 --connlimit-mask 64 "
            "--connlimit-daddr");
  EXPECT_EQ(build(connlimit(R"({"above": 2, "mask": 64})"), "connlimit")->family(), Family::kIPv6);
  EXPECT_EQ(build(connlimit(R"({"above": 2, "mask": 32})"), "connlimit")->family(), std::nullopt);
}

// ---- through the loader

TEST(ConntrackLoader, ErrorsPointAtTheKeyWritten) {
  auto error = [](const std::string& match) {
    try {
      load_ruleset_text(
          R"({"tables": {"filter": {"INPUT": {"rules": [{"match": )" + match + "}]}}}}", "r.json");
    } catch (const RulesetError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_EQ(error(R"({"ctstate": "NEW", "ctexpire": "9:1", "ctdir": "REPLY"})"),
            "r.json:1:85: /tables/filter/INPUT/rules/0/match/ctexpire: expected a range "
            "\"lo:hi\" with lo <= hi, got \"9:1\"");
  EXPECT_EQ(error(R"({"ctorigsrc": "10.0.0.0/8", "ctrepldst": "::1"})"),
            "r.json:1:68: /tables/filter/INPUT/rules/0/match/ctorigsrc: \"ctorigsrc\" and "
            "\"ctrepldst\" are of different families; a rule cannot mix IPv4 and IPv6");
  EXPECT_EQ(error(R"({"!ctdir": "REPLY"})"),
            "r.json:1:65: /tables/filter/INPUT/rules/0/match/!ctdir: \"ctdir\" cannot be "
            "negated");
  EXPECT_EQ(error(R"({"connbytes": {"range": "1", "dir": "both", "mode": "x"}})"),
            "r.json:1:106: /tables/filter/INPUT/rules/0/match/connbytes/mode: expected "
            "\"packets\", \"bytes\" or \"avgpkt\", got \"x\"");
}

TEST(ConntrackLoader, ListAndSaveLikeIptables) {
  auto rs = load_ruleset_text(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"state": ["ESTABLISHED", "RELATED"]}, "target": "ACCEPT"},
      {"match": {"protocol": "tcp", "ctstate": "NEW", "connmark": 1, "ctdir": "REPLY"}},
      {"match": {"connlimit": {"upto": 2, "mask": 24, "by": "destination"}}},
      {"match": {"connbytes": {"range": "10", "dir": "original", "mode": "packets"}}}]}}}})",
                              "t");
  ListOptions options;
  options.verbose = true;
  options.chain = "INPUT";
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options),
            "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
            " pkts bytes target     prot opt in     out     source               destination\n"
            "    0     0 ACCEPT     0    --  *      *       0.0.0.0/0            0.0.0.0/0    "
            "        state RELATED,ESTABLISHED\n"
            "    0     0            6    --  *      *       0.0.0.0/0            0.0.0.0/0    "
            "        ctstate NEW ctdir REPLY connmark match  0x1\n"
            "    0     0            0    --  *      *       0.0.0.0/0            0.0.0.0/0    "
            "        #conn dst/24 <= 2\n"
            "    0     0            0    --  *      *       0.0.0.0/0            0.0.0.0/0    "
            "        connbytes 10 connbytes mode packets connbytes direction original\n");
  EXPECT_EQ(save_ruleset(*rs, Family::kIPv4),
            "# verdictd ruleset t for iptables-restore\n"
            "*filter\n"
            ":INPUT ACCEPT [0:0]\n"
            ":FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n"
            "-A INPUT -p tcp -m conntrack --ctstate NEW --ctdir REPLY -m connmark --mark 0x1\n"
            "-A INPUT -m connlimit --connlimit-upto 2 --connlimit-mask 24 --connlimit-daddr\n"
            "-A INPUT -m connbytes --connbytes 10 --connbytes-mode packets --connbytes-dir "
            "original\n"
            "COMMIT\n");
  EXPECT_EQ(rs->tracked_families, kBothFamilies);
}

}  // namespace
}  // namespace verdictd
