// The set match and SET target in whole rulesets: sets declared inline and
// in files (JSON and ipset save text), their errors with file:line:column,
// the verdicts, `iptables -L` and iptables-save text as iptables 1.8.9
// prints them, and the live sets kept across a reload while unchanged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "loader_errors.hpp"
#include "packets.hpp"
#include "pipeline/engine.hpp"
#include "ruleset/list.hpp"
#include "ruleset/save.hpp"
#include "ruleset_with_state.hpp"
#include "set/ip_set.hpp"
#include "set/ipset_text.hpp"

namespace verdictd {
namespace {

std::string ruleset(const std::string& sets, const std::string& rules) {
  return R"({"sets": )" + sets + R"(, "tables": {"filter": {"INPUT": {"rules": [)" + rules +
         "]}}}}";
}

const std::string kBlockSets = R"({
  "blk": {"type": "hash:net", "counters": true,
          "elements": ["10.0.0.0/8", {"element": "10.1.0.0/16", "nomatch": true}]},
  "ban": {"type": "hash:ip", "timeout": 600},
  "svc": {"type": "hash:net,port", "elements": ["192.0.2.0/24,tcp:22"]}})";

Verdict send(const test::RulesetWithState& rs, const test::Bytes& packet) {
  EvalState state;
  state.hook = Hook::kInput;
  return evaluate_table(rs.ruleset->table(TableId::kFilter), PacketView::parse(packet),
                        rs.with_state(state));
}

IpSet& live(const test::RulesetWithState& rs, const std::string& name) {
  return *std::static_pointer_cast<IpSet>(rs.state->named({"set", name}));
}

test::Bytes tcp_from(const char* source, std::uint16_t dport = 80) {
  return test::ipv4_packet(6, source, "192.0.2.1", 40000, dport);
}

TEST(SetMatch, SourceInSetNomatchAndNegation) {
  const auto rs = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"set": {"name": "blk", "flags": "src"}}, "target": "DROP"})"));
  EXPECT_EQ(send(rs, tcp_from("10.9.9.9")), Verdict::kDrop);
  EXPECT_EQ(send(rs, tcp_from("10.1.9.9")), Verdict::kAccept);  // nomatch
  EXPECT_EQ(send(rs, tcp_from("11.0.0.1")), Verdict::kAccept);
  const auto negated = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"!set": {"name": "blk", "flags": "src"}}, "target": "DROP"})"));
  EXPECT_EQ(send(negated, tcp_from("10.9.9.9")), Verdict::kAccept);
  EXPECT_EQ(send(negated, tcp_from("10.1.9.9")), Verdict::kDrop);
  const auto inverted = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"set": {"name": "blk", "flags": "src", "return_nomatch": true}},
     "target": "DROP"})"));
  EXPECT_EQ(send(inverted, tcp_from("10.9.9.9")), Verdict::kAccept);
  EXPECT_EQ(send(inverted, tcp_from("10.1.9.9")), Verdict::kDrop);
}

TEST(SetMatch, DimensionsFromSourceOrDestination) {
  const auto rs = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"set": {"name": "svc", "flags": "dst,dst"}}, "target": "DROP"})"));
  EXPECT_EQ(send(rs, tcp_from("10.0.0.1", 22)), Verdict::kDrop);
  EXPECT_EQ(send(rs, tcp_from("10.0.0.1", 23)), Verdict::kAccept);
  EXPECT_EQ(send(rs, test::ipv4_packet(17, "10.0.0.1", "192.0.2.1", 40000, 22)), Verdict::kAccept);
  // Fewer flags than the set has dimensions: the kernel never matches.
  const auto short_flags = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"set": {"name": "svc", "flags": "dst"}}, "target": "DROP"})"));
  EXPECT_EQ(send(short_flags, tcp_from("10.0.0.1", 22)), Verdict::kAccept);
}

TEST(SetMatch, CountersCountAndCompare) {
  const auto rs = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"set": {"name": "blk", "flags": "src", "packets_lt": 3}}, "target": "DROP"})"));
  EXPECT_EQ(send(rs, tcp_from("10.9.9.9")), Verdict::kDrop);
  EXPECT_EQ(send(rs, tcp_from("10.9.9.9")), Verdict::kDrop);
  EXPECT_EQ(send(rs, tcp_from("10.9.9.9")), Verdict::kAccept);
  const std::vector<ListedElement> listed = live(rs, "blk").list(set_clock_now());
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[1].text, "10.0.0.0/8");
  EXPECT_EQ(listed[1].packets, 3U);
  EXPECT_EQ(listed[1].bytes, 3U * 40);
}

TEST(SetTarget, AddsTheSourceWithATimeoutAndDeletes) {
  const auto rs = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"protocol": "tcp", "dport": 24}, "target": {"SET": {"del_set": {"name": "ban", "flags": "src"}}}},
    {"match": {"set": {"name": "ban", "flags": "src"}}, "target": "DROP"},
    {"match": {"protocol": "tcp", "dport": 23}, "target": {"SET": {"add_set": {"name": "ban", "flags": "src"}, "timeout": 60}}})"));
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7")), Verdict::kAccept);
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7", 23)), Verdict::kAccept);  // SET goes on
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7")), Verdict::kDrop);
  const std::vector<ListedElement> listed = live(rs, "ban").list(set_clock_now());
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].text, "198.51.100.7");
  EXPECT_GE(listed[0].timeout.value_or(0), 59U);
  EXPECT_LE(listed[0].timeout.value_or(999), 60U);
  EXPECT_TRUE(live(rs, "ban").del(live(rs, "ban").codec().parse("198.51.100.7"), set_clock_now()));
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7")), Verdict::kAccept);
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7", 23)), Verdict::kAccept);  // banned again
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7")), Verdict::kDrop);
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7", 24)), Verdict::kAccept);  // deleted first
  EXPECT_EQ(send(rs, tcp_from("198.51.100.7")), Verdict::kAccept);
}

TEST(SetTarget, AddsToANetSetWithItsLongestPrefix) {
  const auto rs = test::with_state(ruleset(kBlockSets, R"(
    {"target": {"SET": {"add_set": {"name": "blk", "flags": "src"}}}})"));
  send(rs, tcp_from("172.16.5.5"));
  // The longest prefix blk holds is /16 (INIT_CIDR of the kernel's kadt).
  EXPECT_EQ(
      live(rs, "blk").test_element(live(rs, "blk").codec().parse("172.16.0.0/16"), set_clock_now()),
      SetTest::kMatch);
}

std::string listing(const test::RulesetWithState& rs) {
  return list_table(*rs.ruleset, *rs.state, ListOptions{});
}

TEST(SetMatch, ListAndSaveAsIptables) {
  const auto rs = test::with_state(ruleset(kBlockSets, R"(
    {"match": {"set": {"name": "blk", "flags": "src"}}, "target": "DROP"},
    {"match": {"!set": {"name": "blk", "flags": "src,dst"}}, "target": "DROP"},
    {"match": {"set": {"name": "svc", "flags": "src,dst", "return_nomatch": true,
       "update_counters": false, "update_subcounters": false, "packets_gt": 5, "bytes_ne": 100}},
     "target": "DROP"},
    {"match": {"set": {"name": "blk", "flags": "dst", "packets_lt": 3, "bytes_gt": 7}}, "target": "ACCEPT"},
    {"target": {"SET": {"add_set": {"name": "ban", "flags": "src"}, "exist": true, "timeout": 600}}},
    {"target": {"SET": {"del_set": {"name": "blk", "flags": "src,dst"}}}},
    {"target": {"SET": {"add_set": {"name": "ban", "flags": "src"}, "del_set": {"name": "svc", "flags": "dst,src"}}}})"));
  const std::string listed = listing(rs);
  const std::string counters_listed = std::string("match-set svc src,dst return-nomatch ") +
                                      "! update-counters ! update-subcounters packets-gt 5 " +
                                      "! bytes-eq 100\n";
  const std::string set_listed = std::string("SET        0    --  0.0.0.0/0            ") +
                                 "0.0.0.0/0            add-set ban src exist timeout 600\n";
  for (const std::string& line :
       {std::string("match-set blk src\n"), std::string("! match-set blk src,dst\n"),
        counters_listed, std::string("match-set blk dst packets-lt 3 bytes-gt 7\n"), set_listed,
        std::string("del-set blk src,dst\n"),
        std::string("add-set ban src del-set svc dst,src\n")}) {
    EXPECT_NE(listed.find(line), std::string::npos) << line << "\n" << listed;
  }
  const std::string saved = save_ruleset(*rs.ruleset, Family::kIPv4, nullptr);
  const std::string counters_saved =
      std::string("-A INPUT -m set --match-set svc src,dst ") +
      "--return-nomatch ! --update-counters ! " +
      "--update-subcounters --packets-gt 5 ! --bytes-eq 100 -j DROP\n";
  for (const std::string& line :
       {std::string("-A INPUT -m set --match-set blk src -j DROP\n"),
        std::string("-A INPUT -m set ! --match-set blk src,dst -j DROP\n"), counters_saved,
        std::string("-A INPUT -m set --match-set blk dst --packets-lt 3 --bytes-gt 7 -j ACCEPT\n"),
        std::string("-A INPUT -j SET --add-set ban src --exist --timeout 600\n"),
        std::string("-A INPUT -j SET --del-set blk src,dst\n"),
        std::string("-A INPUT -j SET --add-set ban src --del-set svc dst,src\n")}) {
    EXPECT_NE(saved.find(line), std::string::npos) << line << "\n" << saved;
  }
}

// a: 10/8 less the nomatch 10.1/16; b: 10.1.2.3; six: 2001:db8::/32 (IPv6).
const std::string kListSets = R"({
  "all": {"type": "list:set", "elements": ["a", "six", "b"]},
  "a": {"type": "hash:net", "elements": ["10.0.0.0/8", "10.1.0.0/16 nomatch"]},
  "b": {"type": "hash:ip", "elements": ["10.1.2.3"]},
  "six": {"type": "hash:net", "family": "inet6", "elements": ["2001:db8::/32"]},
  "c": {"type": "hash:ip"},
  "ac": {"type": "list:set", "size": 2, "elements": ["a", "c"]}})";

ListSet& live_list(const test::RulesetWithState& rs, const std::string& name) {
  return *std::static_pointer_cast<ListSet>(rs.state->named({"set", name}));
}

TEST(ListSetMatch, FirstMemberThatMatchesOfThePacketsFamily) {
  const auto rs = test::with_state(ruleset(kListSets, R"(
    {"match": {"set": {"name": "all", "flags": "src"}}, "target": "DROP"})"));
  EXPECT_EQ(send(rs, tcp_from("10.9.9.9")), Verdict::kDrop);    // a
  EXPECT_EQ(send(rs, tcp_from("10.1.2.3")), Verdict::kDrop);    // a says nomatch, b has it
  EXPECT_EQ(send(rs, tcp_from("10.1.9.9")), Verdict::kAccept);  // nomatch in a, not in b
  EXPECT_EQ(send(rs, tcp_from("11.0.0.1")), Verdict::kAccept);
  EXPECT_EQ(send(rs, test::ipv6_udp_packet("2001:db8::1", "2001:db8::2", 1, 2)), Verdict::kDrop);
  EXPECT_EQ(send(rs, test::ipv6_udp_packet("2001:db9::1", "2001:db8::2", 1, 2)), Verdict::kAccept);
  // --return-nomatch per member, for the types with nomatch elements only.
  const auto inverted = test::with_state(ruleset(kListSets, R"(
    {"match": {"set": {"name": "all", "flags": "src", "return_nomatch": true}},
     "target": "DROP"})"));
  EXPECT_EQ(send(inverted, tcp_from("10.9.9.9")), Verdict::kAccept);
  EXPECT_EQ(send(inverted, tcp_from("10.1.9.9")), Verdict::kDrop);
  EXPECT_EQ(send(inverted, tcp_from("10.1.2.3")), Verdict::kDrop);
  // Members changed at runtime answer at once.
  live_list(rs, "all").del("a", {}, set_clock_now());
  EXPECT_EQ(send(rs, tcp_from("10.9.9.9")), Verdict::kAccept);
  std::vector<std::string> names;
  for (const ListedElement& member : live_list(rs, "all").list(set_clock_now())) {
    names.push_back(member.text);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"six", "b"}));
}

TEST(ListSetTarget, AddsToTheFirstMemberThatTakesItDeletesFromTheFirstThatHeldIt) {
  const auto rs = test::with_state(ruleset(kListSets, R"(
    {"match": {"protocol": "tcp", "dport": 23}, "target": {"SET": {"add_set": {"name": "ac", "flags": "src"}}}},
    {"match": {"protocol": "tcp", "dport": 24}, "target": {"SET": {"del_set": {"name": "ac", "flags": "src"}}}})"));
  const auto in = [&rs](const char* set) {
    return live(rs, set).test_element(live(rs, set).codec().parse("198.51.100.7"),
                                      set_clock_now()) == SetTest::kMatch;
  };
  send(rs, tcp_from("198.51.100.7", 23));
  EXPECT_TRUE(in("a"));  // a /8 of a is the longest prefix a holds: 198.0.0.0/8
  EXPECT_FALSE(in("c"));
  send(rs, tcp_from("198.51.100.7", 23));  // already in a, without --exist: c takes it
  EXPECT_TRUE(in("c"));
  send(rs, tcp_from("198.51.100.7", 24));
  EXPECT_FALSE(in("a"));
  EXPECT_TRUE(in("c"));
  send(rs, tcp_from("198.51.100.7", 24));
  EXPECT_FALSE(in("c"));
  EXPECT_EQ(live_list(rs, "ac").options().size, 4U);  // the kernel's least
}

TEST(ListSetLoader, MembersDeclaredAndNotListsIpsetDump) {
  EXPECT_EQ(test::load_error(ruleset(R"({"l": {"type": "list:set", "elements": ["x"]}})", "")),
            "r.json:1:16: /sets/l: member x of list:set l: the ruleset declares no set of that "
            "name");
  EXPECT_EQ(test::load_error(ruleset(R"({"l": {"type": "list:set", "elements": ["m"]},
                                         "m": {"type": "list:set"}})",
                                     "")),
            "r.json:1:16: /sets/l: member m of list:set l: a list:set cannot hold list:sets");
  EXPECT_EQ(test::load_error(ruleset(R"({"l": {"type": "list:set", "family": "inet"}})", "")),
            "r.json:1:47: /sets/l/family: a list:set takes \"size\", \"timeout\", \"counters\", "
            "\"comment\" and \"elements\" (set names), not \"family\"");
  EXPECT_EQ(test::load_error(ruleset(R"({"l": {"type": "list:set", "elements": ["a timeout 5"]},
                                         "a": {"type": "hash:ip"}})",
                                     "")),
            "r.json:1:50: /sets/l/elements/0: the set was created without timeout support");
  const std::string dump = "create a hash:ip family inet\ncreate l list:set size 2\nadd l a\n";
  const std::optional<ListDeclaration> list = read_ipset_list(dump, "d", "l");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->options.size, 4U);
  ASSERT_EQ(list->members.size(), 1U);
  EXPECT_EQ(list->members[0].name, "a");
  EXPECT_FALSE(read_ipset_list(dump, "d", "a"));
  try {
    static_cast<void>(read_ipset_list("create l list:set\nadd l a\nadd l a\n", "d", "l"));
    ADD_FAILURE() << "a repeated member loaded";
  } catch (const RulesetError& e) {
    EXPECT_STREQ(e.what(), "d:3:7: set a is already in list:set l");
  }
  const ListSet saved("l", {});
  EXPECT_EQ(ipset_list_text(saved, set_clock_now()), "create l list:set size 8\n");
}

TEST(SetLoader, ErrorsPointAtTheValue) {
  EXPECT_EQ(
      test::load_error(ruleset(R"({"blk": {"type": "hash:nett"}})", "")),
      "r.json:1:27: /sets/blk/type: expected a set type: hash:ip, hash:net, hash:ip,port, "
      "hash:net,port, hash:ip,port,ip, hash:net,iface, hash:mac, bitmap:port or list:set, got "
      "\"hash:nett\"");
  EXPECT_EQ(test::load_error(ruleset(
                R"({"blk": {"type": "hash:net", "elements": ["10.0.0.0/8", "10.0.0.0/99"]}})", "")),
            "r.json:1:66: /sets/blk/elements/1: expected a prefix length 1-32, got \"99\"");
  EXPECT_EQ(test::load_error(ruleset(R"({"blk": {"type": "hash:net"}})",
                                     R"({"match": {"set": {"name": "bl", "flags": "src"}}})")),
            "r.json:1:110: /tables/filter/INPUT/rules/0/match/set/name: no set named \"bl\"; "
            "the ruleset's \"sets\" declare blk");
  EXPECT_EQ(test::load_error(ruleset(R"({"blk": {"type": "hash:net"}})",
                                     R"({"match": {"set": {"name": "blk", "flags": "src,up"}}})")),
            "r.json:1:126: /tables/filter/INPUT/rules/0/match/set/flags: expected \"src\" or "
            "\"dst\" per dimension, comma-separated, at most 6, got \"src,up\"");
  // An inet6 set restricts its rule to IPv6: not with an IPv4 address.
  EXPECT_EQ(test::load_error(ruleset(
                R"({"b6": {"type": "hash:net", "family": "inet6"}})",
                R"({"match": {"source": "10.0.0.1", "set": {"name": "b6", "flags": "src"}}})")),
            "r.json:1:141: /tables/filter/INPUT/rules/0/match/set: this rule already applies to "
            "IPv4 only; a rule cannot mix IPv4 and IPv6");
}

class SetFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vd-sets-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
  }
  [[nodiscard]] std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // The ruleset at dir/r.json, loaded with its state after `previous`'s.
  [[nodiscard]] test::RulesetWithState load(
      const std::string& text, const test::RulesetWithState* previous = nullptr) const {
    write("r.json", text);
    std::shared_ptr<const Ruleset> rs = load_ruleset_file(path("r.json"), 1 << 20);
    std::optional<RulesetInForce> in_force;
    if (previous != nullptr) in_force = RulesetInForce{previous->ruleset, previous->state};
    auto state = std::make_shared<RulesetState>(*rs, in_force ? &*in_force : nullptr);
    return {std::move(rs), std::move(state)};
  }
  [[nodiscard]] std::string load_error(const std::string& text) const {
    try {
      static_cast<void>(load(text));
    } catch (const RulesetError& e) {
      return e.what();
    }
    return "loaded";
  }

 private:
  std::filesystem::path dir_;
};

const std::string kDropBlk =
    R"({"match": {"set": {"name": "blk", "flags": "src"}}, "target": "DROP"})";

TEST_F(SetFiles, IpsetDumpAndJsonFiles) {
  write("blk.ipset",
        "create blk hash:net family inet hashsize 1024 maxelem 65536\n"
        "add blk 10.0.0.0/8\nadd blk 10.1.0.0/16 nomatch\n");
  auto rs = load(ruleset(R"({"blk": {"file": "blk.ipset", "format": "ipset"}})", kDropBlk));
  EXPECT_EQ(send(rs, tcp_from("10.2.0.1")), Verdict::kDrop);
  EXPECT_EQ(send(rs, tcp_from("10.1.0.1")), Verdict::kAccept);
  write("blk.json", R"(["10.0.0.0/8", "192.0.2.0/24 nomatch"])");
  rs = load(ruleset(R"({"blk": {"type": "hash:net", "file": "blk.json"}})", kDropBlk));
  EXPECT_EQ(send(rs, tcp_from("10.2.0.1")), Verdict::kDrop);
  write("bad.json", "[\"10.0.0.0/8\",\n \"10.0.0.300\"]");
  EXPECT_EQ(load_error(ruleset(R"({"blk": {"type": "hash:net", "file": "bad.json"}})", kDropBlk)),
            path("bad.json") + ":2:2: /1: expected an IPv4 address, got \"10.0.0.300\"");
  write("bad.ipset", "create blk hash:net\nadd blk 10.0.0.0/8 timeout 5\n");
  EXPECT_EQ(load_error(ruleset(R"({"blk": {"file": "bad.ipset", "format": "ipset"}})", kDropBlk)),
            path("bad.ipset") + ":2:9: the set was created without timeout support");
  EXPECT_EQ(load_error(ruleset(R"({"blk": {"file": "none.ipset", "format": "ipset"}})", kDropBlk)),
            path("none.ipset") + ": cannot open: No such file or directory");
}

TEST_F(SetFiles, RuntimeChangesSurviveAReloadWhileTheSetIsUnchanged) {
  write("blk.ipset", "create blk hash:net family inet\nadd blk 10.0.0.0/8\n");
  const std::string text =
      ruleset(R"({"blk": {"file": "blk.ipset", "format": "ipset"}})", kDropBlk);
  const auto first = load(text);
  live(first, "blk")
      .add(live(first, "blk").codec().parse("203.0.113.0/24"), false, set_clock_now());
  EXPECT_EQ(send(first, tcp_from("203.0.113.9")), Verdict::kDrop);
  // Another rule, the same set: the runtime element stays.
  const auto second = load(ruleset(R"({"blk": {"file": "blk.ipset", "format": "ipset"}})",
                                   kDropBlk + R"(, {"target": "ACCEPT"})"),
                           &first);
  EXPECT_EQ(send(second, tcp_from("203.0.113.9")), Verdict::kDrop);
  EXPECT_EQ(&live(first, "blk"), &live(second, "blk"));
  // set save writes it to its file; a reload of the saved file keeps it too.
  write("blk.ipset", ipset_text(live(second, "blk"), set_clock_now()));
  const auto third = load(text, &second);
  EXPECT_EQ(send(third, tcp_from("203.0.113.9")), Verdict::kDrop);
  // A changed file is a changed set: loaded afresh.
  write("blk.ipset", "create blk hash:net family inet\nadd blk 10.0.0.0/8\n");
  const auto fourth = load(text, &third);
  EXPECT_EQ(send(fourth, tcp_from("203.0.113.9")), Verdict::kAccept);
  EXPECT_EQ(send(fourth, tcp_from("10.0.0.9")), Verdict::kDrop);
}

}  // namespace
}  // namespace verdictd

namespace verdictd {
namespace {

TEST_F(SetFiles, ListSetMembersKeepTheirCountersAndTimeoutsAcrossAReload) {
  const std::string sets = R"({
    "cl": {"type": "list:set", "timeout": 600, "counters": true, "comment": true,
           "elements": ["b timeout 0 comment \"kept\""]},
    "b": {"type": "hash:ip", "elements": ["10.1.2.3"]}})";
  const std::string rules =
      R"({"match": {"set": {"name": "cl", "flags": "src"}}, "target": "DROP"})";
  const auto first = load(ruleset(sets, rules));
  EXPECT_EQ(send(first, tcp_from("10.1.2.3")), Verdict::kDrop);
  EXPECT_EQ(send(first, tcp_from("10.1.2.3")), Verdict::kDrop);
  const auto second = load(ruleset(sets, rules), &first);
  const std::vector<ListedElement> members = live_list(second, "cl").list(set_clock_now());
  ASSERT_EQ(members.size(), 1U);
  EXPECT_EQ(members[0].text + element_options_text(members[0]),
            "b timeout 0 packets 2 bytes 80 comment \"kept\"");
  // The carried member tests the reloaded ruleset's live set b.
  EXPECT_EQ(send(second, tcp_from("10.1.2.3")), Verdict::kDrop);
}

}  // namespace
}  // namespace verdictd
