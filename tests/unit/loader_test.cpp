// Every class of ruleset error, with its location and message, and what a
// valid ruleset turns into.
#include "ruleset/loader.hpp"

#include <gtest/gtest.h>

#include "loader_errors.hpp"

namespace verdictd {
namespace {

using test::load_error;

TEST(Loader, ValidRulesetBuildsTablesChainsAndHooks) {
  auto rs = load_ruleset_text(R"({"tables": {"filter": {
      "INPUT": {"policy": "DROP", "rules": [
        {"comment": "ssh", "match": {"protocol": "tcp", "dport": 22}, "target": "ACCEPT"},
        {"jump": "web"}]},
      "web": {"rules": [{"target": "RETURN"}]}}}})",
                              "r.json");
  const Table& filter = rs->table(TableId::kFilter);
  ASSERT_EQ(filter.chains.size(), 4U);  // INPUT FORWARD OUTPUT web
  const Chain& input = filter.chains[static_cast<std::size_t>(filter.builtin[1])];
  EXPECT_EQ(input.name, "INPUT");
  EXPECT_EQ(input.policy(Family::kIPv4).verdict, Policy::kDrop);
  EXPECT_EQ(input.policy(Family::kIPv6).verdict, Policy::kDrop);
  ASSERT_EQ(input.rules.size(), 2U);
  EXPECT_EQ(input.rules[0].comment, "ssh");
  EXPECT_EQ(input.rules[1].jump_chain, 3);
  EXPECT_EQ(filter.chains[3].reached_from, hook_bit(Hook::kInput));
  EXPECT_EQ(rs->used_hooks[Family::kIPv4], hook_bit(Hook::kInput));
  EXPECT_EQ(rs->used_hooks[Family::kIPv6], hook_bit(Hook::kInput));
  // Tables not named still have their built-in chains, with ACCEPT policies.
  EXPECT_EQ(rs->table(TableId::kRaw).chains.size(), 2U);
}

TEST(Loader, UsedHooksFollowJumpsAndDropPolicies) {
  auto rs = load_ruleset_text(R"({"tables": {
      "filter": {"FORWARD": {"policy": "DROP"}},
      "mangle": {"POSTROUTING": {"rules": [{"match": {"mark": 1}}]}}}})",
                              "r.json");
  EXPECT_EQ(rs->used_hooks[Family::kIPv4], hook_bit(Hook::kForward) | hook_bit(Hook::kPostrouting));
  EXPECT_EQ(rs->used_hooks[Family::kIPv6], hook_bit(Hook::kForward) | hook_bit(Hook::kPostrouting));
}

TEST(Loader, PortOutOfRangeNamesFileLineColumnAndPointer) {
  const std::string text =
      "{\"tables\": {\"filter\": {\"INPUT\": {\"rules\": [\n"
      "  {\"target\": \"ACCEPT\"},\n"
      "  {\"target\": \"ACCEPT\"},\n"
      "  {\"target\": \"ACCEPT\"},\n"
      "  {\"match\": {\"protocol\": \"tcp\", \"dport\": \"70000\"}, \"target\": \"DROP\"}\n"
      "]}}}}";
  EXPECT_EQ(load_error(text),
            "r.json:5:42: /tables/filter/INPUT/rules/3/match/dport: expected a port 0-65535 or "
            "\"lo:hi\", got \"70000\"");
}

TEST(Loader, SyntaxErrorNamesPosition) {
  EXPECT_EQ(load_error("{\"tables\": {\n  \"filter\": {,}}}").substr(0, 32),
            "r.json:2:14: expected valid JSON");
}

TEST(Loader, UnknownKeysAreRefusedEverywhere) {
  EXPECT_EQ(load_error(R"({"tables": {}, "table": 1})"),
            "r.json:1:25: /table: unknown key \"table\"; expected tables, families, sets, comment, "
            "$schema");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"polcy": "DROP"}}}})"),
            "r.json:1:43: /tables/filter/INPUT/polcy: unknown key \"polcy\"; expected policy, "
            "rules, comment");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [{"targt": "DROP"}]}}}})"),
            "r.json:1:54: /tables/filter/INPUT/rules/0/targt: unknown key \"targt\"; expected "
            "comment, family, match, target, jump, goto");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [{"match": {"dprt": 1}}]}}}})"),
            "r.json:1:63: /tables/filter/INPUT/rules/0/match/dprt: unknown match \"dprt\"");
}

TEST(Loader, DuplicateKeysAreRefused) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "tcp", "dport": 22, "dport": 80}}]}}}})"),
            "r.json:2:50: /tables/filter/INPUT/rules/0/match/dport: duplicate key; each key may "
            "appear once in an object");
}

TEST(Loader, UnknownTableAndTarget) {
  EXPECT_EQ(
      load_error(R"({"tables": {"filters": {}}})"),
      "r.json:1:24: /tables/filters: unknown table \"filters\"; expected filter, nat, mangle, "
      "raw or security");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [{"target": "ACCEPTT"}]}}}})"),
            "r.json:1:55: /tables/filter/INPUT/rules/0/target: unknown target \"ACCEPTT\"");
}

TEST(Loader, WrongTypes) {
  EXPECT_EQ(load_error(R"({"tables": []})"),
            "r.json:1:12: /tables: expected an object of tables, got []");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": {}}}}})"),
            "r.json:1:43: /tables/filter/INPUT/rules: expected an array of rules, got {}");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"policy": "REJECT"}}}})"),
            "r.json:1:44: /tables/filter/INPUT/policy: expected \"ACCEPT\" or \"DROP\", got "
            "\"REJECT\"");
}

TEST(Loader, JumpsToMissingOrBuiltinChains) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [{"jump": "nope"}]}}}})"),
            "r.json:1:53: /tables/filter/INPUT/rules/0/jump: no chain named \"nope\" in table "
            "filter");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [{"goto": "OUTPUT"}]}}}})"),
            "r.json:1:53: /tables/filter/INPUT/rules/0/goto: cannot goto to built-in chain "
            "\"OUTPUT\"");
  EXPECT_EQ(
      load_error(
          R"({"tables": {"filter": {"a": {}, "INPUT": {"rules": [{"jump": "a", "goto": "a"}]}}}})"),
      "r.json:1:53: /tables/filter/INPUT/rules/0: a rule takes at most one of \"target\", \"jump\" "
      "and \"goto\"");
}

TEST(Loader, LoopsAreRefused) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {
      "INPUT": {"rules": [{"jump": "a"}]},
      "a": {"rules": [{"jump": "b"}]},
      "b": {"rules": [{"goto": "a"}]}}}})"),
            "r.json:4:32: /tables/filter/b/rules/0/goto: this makes a loop: INPUT -> a -> b -> a");
}

TEST(Loader, NatRefusesDrop) {
  EXPECT_EQ(load_error(R"({"tables": {"nat": {"PREROUTING": {"policy": "DROP"}}}})"),
            "r.json:1:46: /tables/nat/PREROUTING/policy: the nat table does not allow a DROP "
            "policy");
  EXPECT_EQ(load_error(R"({"tables": {"nat": {"OUTPUT": {"rules": [{"target": "DROP"}]}}}})"),
            "r.json:1:53: /tables/nat/OUTPUT/rules/0/target: the nat table does not allow DROP");
}

TEST(Loader, UserChainsHaveNoPolicyAndValidNames) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"web": {"policy": "DROP"}}}})"),
            "r.json:1:42: /tables/filter/web/policy: only built-in chains have a policy; \"web\" "
            "is a user chain");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"a-very-long-chain-name-beyond-28": {}}}})"),
            "r.json:1:60: /tables/filter/a-very-long-chain-name-beyond-28: chain name "
            "\"a-very-long-chain-name-beyond-28\" must be 1 to 28 characters");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"ACCEPT": {}}}})"),
            "r.json:1:34: /tables/filter/ACCEPT: chain name \"ACCEPT\" is the name of a target");
}

TEST(Loader, HookRestrictionsFollowTheJumpGraph) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"OUTPUT": {"rules": [
      {"match": {"in_interface": "eth0"}}]}}}})"),
            "r.json:2:34: /tables/filter/OUTPUT/rules/0/match/in_interface: in_interface cannot be "
            "used in OUTPUT");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {
      "INPUT": {"rules": [{"jump": "c"}]},
      "c": {"rules": [{"match": {"out_interface": "eth0"}}]}}}})"),
            "r.json:3:51: /tables/filter/c/rules/0/match/out_interface: out_interface cannot be "
            "used in INPUT (chain \"c\" is reached from INPUT in table filter)");
  // The same chain reached only from FORWARD is fine.
  EXPECT_EQ(load_error(R"({"tables": {"filter": {
      "FORWARD": {"rules": [{"jump": "c"}]},
      "c": {"rules": [{"match": {"out_interface": "eth0", "in_interface": "eth1"}}]}}}})"),
            "loaded");
}

TEST(Loader, NegationOnlyWhereAllowedAndFamiliesDoNotMix) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"source": "10.0.0.1", "destination": "2001:db8::1"}}]}}}})"),
            "r.json:2:55: /tables/filter/INPUT/rules/0/match/destination: this rule already "
            "applies to IPv4 only; a rule cannot mix IPv4 and IPv6");
  auto rs = load_ruleset_text(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"!source": "2001:db8::/32"}}]}}}})",
                              "r.json");
  EXPECT_EQ(rs->table(TableId::kFilter).chains[0].rules[0].family, Family::kIPv6);
}

TEST(Loader, ExtensionErrorsInsideListsPointAtTheElement) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "udp", "dport": [53, 99999]}}]}}}})"),
            "r.json:2:51: /tables/filter/INPUT/rules/0/match/dport/1: expected a port 0-65535 or "
            "\"lo:hi\", got 99999");
}

}  // namespace
}  // namespace verdictd
