// CONNMARK, NOTRACK and CT --notrack: what they do to the packet's
// connection, where they are allowed, their errors, and their listing and
// iptables-save text, checked against what iptables 1.8.9 prints.
#include <gtest/gtest.h>

#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension_builders.hpp"
#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;

struct Marks {
  std::uint32_t packet = 0;
  std::uint32_t connection = 0;
  bool changed = false;  // connmark_changed
};

// Runs the target on a packet with `before` marks and a connection.
Marks applied(const std::string& target_text, Marks before) {
  PacketConntrack ct;
  ct.state = CtState::kEstablished;
  ct.has_flow = true;
  ct.flow.mark = before.connection;
  EvalState state;
  state.mark = before.packet;
  state.conntrack = &ct;
  EXPECT_EQ(build(target_text)->apply(PacketView{}, state), TargetAction::kContinue);
  return Marks{state.mark, ct.flow.mark, ct.connmark_changed};
}

bool operator==(const Marks& a, const Marks& b) {
  return a.packet == b.packet && a.connection == b.connection && a.changed == b.changed;
}

void PrintTo(const Marks& m, std::ostream* os) {
  *os << "packet " << m.packet << " connection " << m.connection << (m.changed ? " changed" : "");
}

TEST(ConntrackConnmarkTarget, SetOperations) {
  const Marks before{0x7, 0xf0f0, false};
  EXPECT_EQ(applied(R"({"CONNMARK": {"set_mark": "0x1"}})", before), (Marks{0x7, 0x1, true}));
  EXPECT_EQ(applied(R"({"CONNMARK": {"set_mark": "0x1/0xff"}})", before),
            (Marks{0x7, 0xf001, true}));
  EXPECT_EQ(applied(R"({"CONNMARK": {"set_xmark": "0x11/0x10"}})", before),
            (Marks{0x7, 0xf0f1, true}));
  EXPECT_EQ(applied(R"({"CONNMARK": {"and_mark": "0xff"}})", before), (Marks{0x7, 0xf0, true}));
  EXPECT_EQ(applied(R"({"CONNMARK": {"or_mark": "0xf"}})", before), (Marks{0x7, 0xf0ff, true}));
  EXPECT_EQ(applied(R"({"CONNMARK": {"xor_mark": "0xff00"}})", before), (Marks{0x7, 0x0ff0, true}));
  // Setting the mark it already has changes nothing to write back.
  EXPECT_EQ(applied(R"({"CONNMARK": {"set_mark": 61680}})", before), (Marks{0x7, 0xf0f0, false}));
}

TEST(ConntrackConnmarkTarget, SaveAndRestore) {
  const Marks before{0x1234, 0xabcd, false};
  EXPECT_EQ(applied(R"({"CONNMARK": {"save_mark": true}})", before), (Marks{0x1234, 0x1234, true}));
  // connection = (connection & ~ctmask) ^ (packet & nfmask)
  EXPECT_EQ(
      applied(R"({"CONNMARK": {"save_mark": true, "nfmask": "0xff", "ctmask": "0xf0"}})", before),
      (Marks{0x1234, 0xab0d ^ 0x34, true}));
  EXPECT_EQ(applied(R"({"CONNMARK": {"restore_mark": true}})", before),
            (Marks{0xabcd, 0xabcd, false}));
  // packet = (packet & ~nfmask) ^ (connection & ctmask)
  EXPECT_EQ(applied(R"({"CONNMARK": {"restore_mark": true, "nfmask": "0xff", "ctmask": "0xf0"}})",
                    before),
            (Marks{0x1200 ^ 0xc0, 0xabcd, false}));
}

TEST(ConntrackConnmarkTarget, WithoutAConnectionNothingChanges) {
  for (CtState s : {CtState::kInvalid, CtState::kUntracked}) {
    PacketConntrack ct;
    ct.state = s;
    EvalState state;
    state.mark = 5;
    state.conntrack = &ct;
    EXPECT_EQ(build(R"({"CONNMARK": {"restore_mark": true}})")->apply(PacketView{}, state),
              TargetAction::kContinue);
    EXPECT_EQ(build(R"({"CONNMARK": {"set_mark": 1}})")->apply(PacketView{}, state),
              TargetAction::kContinue);
    EXPECT_EQ(state.mark, 5U);
    EXPECT_FALSE(ct.connmark_changed);
  }
  EvalState untracked;
  EXPECT_EQ(build(R"({"CONNMARK": {"save_mark": true}})")->apply(PacketView{}, untracked),
            TargetAction::kContinue);
}

TEST(ConntrackConnmarkTarget, Errors) {
  const std::string operations =
      R"("set_mark", "set_xmark", "and_mark", "or_mark", "xor_mark", "save_mark" or )"
      R"("restore_mark")";
  EXPECT_EQ(build_error(R"("CONNMARK")"), ": CONNMARK needs one of " + operations);
  EXPECT_EQ(build_error(R"({"CONNMARK": {"set_mark": 1, "save_mark": true}})"),
            ": CONNMARK takes at most one of " + operations);
  EXPECT_EQ(build_error(R"({"CONNMARK": {"set_mark": 1, "nfmask": 1}})"),
            R"(/nfmask: "nfmask" and "ctmask" go only with "save_mark" or "restore_mark")");
  EXPECT_EQ(build_error(R"({"CONNMARK": {"save_mark": false}})"),
            "/save_mark: expected true, got false");
  EXPECT_EQ(build_error(R"({"CONNMARK": {"restore_mark": true, "ctmask": "0x1/0x1"}})"),
            "/ctmask: expected a 32-bit value such as \"0xff\", without a mask, got \"0x1/0x1\"");
  EXPECT_EQ(build_error(R"({"CONNMARK": {"or_mark": "0x100000000"}})"),
            "/or_mark: expected a 32-bit value such as \"0xff\", without a mask, got "
            "\"0x100000000\"");
  EXPECT_EQ(build_error(R"({"CONNMARK": {"mask": 1}})"),
            "/mask: unknown key \"mask\"; expected set_mark, set_xmark, and_mark, or_mark, "
            "xor_mark, save_mark, restore_mark, nfmask, ctmask");
}

TEST(ConntrackConnmarkTarget, ListAndSaveLikeIptables) {
  auto text = [](const std::string& options) {
    auto target = build(R"({"CONNMARK": )" + options + "}");
    EXPECT_EQ(target->name(), "CONNMARK");
    EXPECT_TRUE(target->needs_conntrack());
    return target->list_extra() + " | " + target->save();
  };
  EXPECT_EQ(text(R"({"save_mark": true})"),
            "CONNMARK save | -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff");
  EXPECT_EQ(text(R"({"save_mark": true, "nfmask": "0xff", "ctmask": "0xf0"})"),
            "CONNMARK save nfmask 0xff ctmask ~0xf0 | -j CONNMARK --save-mark --nfmask 0xff "
            "--ctmask 0xf0");
  EXPECT_EQ(text(R"({"restore_mark": true})"),
            "CONNMARK restore | -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask "
            "0xffffffff");
  EXPECT_EQ(text(R"({"restore_mark": true, "nfmask": "0xff", "ctmask": "0xf0"})"),
            "CONNMARK restore ctmask 0xf0 nfmask ~0xff | -j CONNMARK --restore-mark --nfmask "
            "0xff --ctmask 0xf0");
  EXPECT_EQ(text(R"({"restore_mark": true, "nfmask": "0xff", "ctmask": "0xff"})"),
            "CONNMARK restore mask 0xff | -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff");
  EXPECT_EQ(text(R"({"set_mark": "0x1"})"),
            "CONNMARK set 0x1 | -j CONNMARK --set-xmark 0x1/0xffffffff");
  EXPECT_EQ(text(R"({"set_mark": "0x1/0xff"})"),
            "CONNMARK xset 0x1/0xff | -j CONNMARK --set-xmark 0x1/0xff");
  EXPECT_EQ(text(R"({"set_xmark": "0x1"})"),
            "CONNMARK set 0x1 | -j CONNMARK --set-xmark 0x1/0xffffffff");
  EXPECT_EQ(text(R"({"and_mark": "0xff"})"),
            "CONNMARK and 0xff | -j CONNMARK --set-xmark 0x0/0xffffff00");
  EXPECT_EQ(text(R"({"or_mark": "0xff"})"), "CONNMARK or 0xff | -j CONNMARK --set-xmark 0xff/0xff");
  EXPECT_EQ(text(R"({"xor_mark": "0xff"})"),
            "CONNMARK xor 0xff | -j CONNMARK --set-xmark 0xff/0x0");
  EXPECT_EQ(text(R"({"set_mark": 0})"),
            "CONNMARK and 0x0 | -j CONNMARK --set-xmark 0x0/0xffffffff");
  EXPECT_EQ(text(R"({"set_xmark": "0/0"})"),
            "CONNMARK and 0xffffffff | -j CONNMARK --set-xmark 0x0/0x0");
}

TEST(ConntrackNotrackTarget, MarksThePacketUntrackedInRawOnly) {
  for (const char* text : {R"("NOTRACK")", R"({"CT": {"notrack": true}})"}) {
    auto target = build(text, TableId::kRaw);
    PacketConntrack ct;
    EvalState state;
    state.conntrack = &ct;
    EXPECT_EQ(target->apply(PacketView{}, state), TargetAction::kContinue);
    EXPECT_TRUE(ct.notrack);
    // A packet that has its connection already keeps it, as in the kernel.
    PacketConntrack tracked;
    tracked.has_flow = true;
    state.conntrack = &tracked;
    target->apply(PacketView{}, state);
    EXPECT_FALSE(tracked.notrack);
    EvalState untracked;
    EXPECT_EQ(target->apply(PacketView{}, untracked), TargetAction::kContinue);
    EXPECT_TRUE(target->needs_conntrack());
    for (TableId table : kAllTables) {
      EXPECT_EQ(build_error(text, table) == "built", table == TableId::kRaw) << text;
    }
    EXPECT_EQ(target->name(), "CT");
  }
  // iptables-legacy -t raw -A PREROUTING -j NOTRACK / -j CT --notrack
  EXPECT_EQ(build(R"("NOTRACK")", TableId::kRaw)->list_extra(), "NOTRACK");
  EXPECT_EQ(build(R"("NOTRACK")", TableId::kRaw)->save(), "-j NOTRACK");
  EXPECT_EQ(build(R"({"CT": {"notrack": true}})", TableId::kRaw)->list_extra(), "CT notrack");
  EXPECT_EQ(build(R"({"CT": {"notrack": true}})", TableId::kRaw)->save(), "-j CT --notrack");
}

TEST(ConntrackNotrackTarget, Errors) {
  EXPECT_EQ(build_error(R"({"NOTRACK": {}})", TableId::kRaw),
            R"(: expected no options (write "NOTRACK" as a string), got {})");
  EXPECT_EQ(build_error(R"("CT")", TableId::kRaw), R"(: CT needs "notrack")");
  EXPECT_EQ(build_error(R"({"CT": {"notrack": 1}})", TableId::kRaw),
            "/notrack: expected true, got 1");
  EXPECT_EQ(build_error(R"({"CT": {}})", TableId::kRaw), R"(: CT needs "notrack")");
  EXPECT_EQ(build_error(R"({"CT": {"zone": 1}})", TableId::kRaw),
            R"(/zone: unknown key "zone"; expected notrack)");
}

TEST(ConntrackTargets, ThroughTheLoader) {
  auto rs = load_ruleset_text(R"({"tables": {
      "raw": {"PREROUTING": {"rules": [{"target": "NOTRACK"},
                                       {"target": {"CT": {"notrack": true}}}]}},
      "mangle": {"PREROUTING": {"rules": [
        {"target": {"CONNMARK": {"restore_mark": true, "nfmask": "0xff", "ctmask": "0xf0"}}}]}}}})",
                              "t");
  EXPECT_EQ(rs->tracked_families, kBothFamilies);
  EXPECT_EQ(save_ruleset(*rs, Family::kIPv4),
            "# verdictd ruleset t for iptables-restore\n"
            "*raw\n"
            ":PREROUTING ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n"
            "-A PREROUTING -j NOTRACK\n"
            "-A PREROUTING -j CT --notrack\n"
            "COMMIT\n"
            "*mangle\n"
            ":PREROUTING ACCEPT [0:0]\n"
            ":INPUT ACCEPT [0:0]\n"
            ":FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xf0\n"
            "COMMIT\n");
  ListOptions options;
  options.table = TableId::kRaw;
  options.chain = "PREROUTING";
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options),
            "Chain PREROUTING (policy ACCEPT)\n"
            "target     prot opt source               destination\n"
            "CT         0    --  0.0.0.0/0            0.0.0.0/0            NOTRACK\n"
            "CT         0    --  0.0.0.0/0            0.0.0.0/0            CT notrack\n");
  try {
    load_ruleset_text(R"({"tables": {"filter": {"INPUT": {"rules": [{"target": "NOTRACK"}]}}}})",
                      "r.json");
    FAIL() << "loaded";
  } catch (const RulesetError& e) {
    EXPECT_STREQ(e.what(),
                 "r.json:1:55: /tables/filter/INPUT/rules/0/target: the filter table does not "
                 "allow NOTRACK");
  }
}

}  // namespace
}  // namespace verdictd
