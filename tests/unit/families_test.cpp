// One ruleset, two families, kept apart as iptables and ip6tables keep them:
// policies per family, rulesets and tables that cover one family, and the
// hooks and tracking each family needs.
#include <gtest/gtest.h>

#include "loader_errors.hpp"
#include "packets.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

namespace verdictd {
namespace {

const auto kUdp4 = test::ipv4_packet(17, "10.0.0.5", "10.0.0.1", 5353, 53);
const auto kUdp6 = test::ipv6_udp_packet("fd00::5", "fd00::1", 5353, 53);
constexpr HookMask kInput = hook_bit(Hook::kInput);

Verdict at_input(const Ruleset& rs, RulesetState& counted, const std::vector<std::uint8_t>& bytes) {
  HookPacket packet;
  packet.hook = Hook::kInput;
  packet.packet = PacketView::parse(bytes);
  std::vector<std::uint8_t> rewritten;
  return run_hook(PipelineRules(rs, counted), packet, nullptr, rewritten).verdict;
}

using test::load_error;

const ChainState& input_chain(const Ruleset& rs, const RulesetState& counted) {
  const Table& filter = rs.table(TableId::kFilter);
  return counted.chain(TableId::kFilter, static_cast<std::size_t>(filter.builtin[1]));
}

TEST(Families, PolicyPerFamily) {
  auto rs = load_ruleset_text(
      R"({"tables": {"filter": {"INPUT": {"policy": {"ipv4": "DROP", "ipv6": "ACCEPT"}}}}})", "t");
  RulesetState counted(*rs);
  EXPECT_EQ(at_input(*rs, counted, kUdp4), Verdict::kDrop);
  EXPECT_EQ(at_input(*rs, counted, kUdp6), Verdict::kAccept);
  EXPECT_EQ(input_chain(*rs, counted).policy(Family::kIPv4).packets, 1U);
  EXPECT_EQ(input_chain(*rs, counted).policy(Family::kIPv6).packets, 1U);
  // Only IPv4 needs INPUT steered: nothing of IPv6 is ever dropped there.
  EXPECT_EQ(rs->used_hooks[Family::kIPv4], kInput);
  EXPECT_EQ(rs->used_hooks[Family::kIPv6], 0);
  // A family left out keeps ACCEPT.
  auto only_v4 =
      load_ruleset_text(R"({"tables": {"filter": {"INPUT": {"policy": {"ipv4": "DROP"}}}}})", "t");
  RulesetState only_v4_counted(*only_v4);
  EXPECT_EQ(at_input(*only_v4, only_v4_counted, kUdp6), Verdict::kAccept);
}

TEST(Families, PolicyPerFamilyInListAndSave) {
  auto rs = load_ruleset_text(
      R"({"tables": {"filter": {"INPUT": {"policy": {"ipv4": "DROP", "ipv6": "ACCEPT"}}}}})", "t");
  ListOptions options;
  options.chain = "INPUT";
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options).substr(0, 44),
            "Chain INPUT (policy ipv4 DROP, ipv6 ACCEPT)\n");
  options.family = Family::kIPv6;
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options).substr(0, 28),
            "Chain INPUT (policy ACCEPT)\n");
  EXPECT_NE(save_ruleset(*rs, Family::kIPv4).find(":INPUT DROP [0:0]"), std::string::npos);
  // ip6tables would hold nothing: the table is all default for IPv6.
  EXPECT_EQ(save_ruleset(*rs, Family::kIPv6).find("*filter"), std::string::npos);
}

TEST(Families, RulesetCoveringOneFamilyLeavesTheOtherAlone) {
  auto rs = load_ruleset_text(R"({"families": ["ipv4"], "tables": {"filter": {"INPUT": {
      "policy": "DROP", "rules": [{"match": {"ctstate": "ESTABLISHED"}, "target": "ACCEPT"}]}}}})",
                              "t");
  EXPECT_EQ(rs->families, family_bit(Family::kIPv4));
  EXPECT_EQ(rs->used_hooks[Family::kIPv4], kInput);
  EXPECT_EQ(rs->used_hooks[Family::kIPv6], 0);
  EXPECT_EQ(rs->tracked_families, family_bit(Family::kIPv4));
  RulesetState counted(*rs);
  EXPECT_EQ(at_input(*rs, counted, kUdp6), Verdict::kAccept);
  EXPECT_EQ(input_chain(*rs, counted).rules[0]->counters.packets, 0U);
  EXPECT_EQ(save_ruleset(*rs, Family::kIPv6).find("*filter"), std::string::npos);
}

TEST(Families, TableCoveringOneFamily) {
  auto rs = load_ruleset_text(R"({"tables": {
      "filter": {"families": "ipv6", "INPUT": {"policy": "DROP"}},
      "mangle": {"INPUT": {"rules": [{"match": {"protocol": "udp"}}]}}}})",
                              "t");
  RulesetState counted(*rs);
  EXPECT_EQ(at_input(*rs, counted, kUdp4), Verdict::kAccept);
  EXPECT_EQ(at_input(*rs, counted, kUdp6), Verdict::kDrop);
  EXPECT_EQ(rs->used_hooks[Family::kIPv4], kInput);  // mangle's rule
  EXPECT_EQ(rs->used_hooks[Family::kIPv6], kInput);
  ListOptions options;
  options.chain = "INPUT";
  options.family = Family::kIPv4;
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options).substr(0, 28),
            "Chain INPUT (policy ACCEPT)\n");
}

TEST(Families, TrackingIsPerFamily) {
  auto rs = load_ruleset_text(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"source": "fd00::/8", "ctstate": "NEW"}, "target": "ACCEPT"}]}}}})",
                              "t");
  EXPECT_EQ(rs->tracked_families, family_bit(Family::kIPv6));
  EXPECT_TRUE(rs->tracks(Family::kIPv6));
  EXPECT_FALSE(rs->tracks(Family::kIPv4));
  EXPECT_EQ(rs->used_hooks[Family::kIPv4], 0);
}

TEST(Families, ErrorsNameThePlaceAndWhatWasExpected) {
  EXPECT_EQ(load_error(R"({"families": "ipv5", "tables": {}})"),
            R"(r.json:1:14: /families: expected "ipv4", "ipv6" or a list of them, got "ipv5")");
  EXPECT_EQ(load_error(R"({"families": [], "tables": {}})"),
            R"(r.json:1:14: /families: expected at least one of "ipv4" and "ipv6", got [])");
  EXPECT_EQ(load_error(R"({"families": ["ipv4"], "tables": {"filter": {"families": ["ipv6"]}}})"),
            "r.json:1:58: /tables/filter/families: the ruleset covers only ipv4; a table cannot "
            "cover more");
  EXPECT_EQ(
      load_error(R"({"tables": {"filter": {"INPUT": {"policy": {"ipv4": "REJECT"}}}}})"),
      R"(r.json:1:53: /tables/filter/INPUT/policy/ipv4: expected "ACCEPT" or "DROP", got "REJECT")");
  EXPECT_EQ(
      load_error(R"({"tables": {"filter": {"INPUT": {"policy": {"inet": "DROP"}}}}})"),
      R"(r.json:1:53: /tables/filter/INPUT/policy/inet: expected "ipv4" or "ipv6" as the family of a policy, got "inet")");
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"families": "ipv4",
      "INPUT": {"policy": {"ipv6": "DROP"}}}}})"),
            "r.json:2:36: /tables/filter/INPUT/policy/ipv6: table filter covers only ipv4");
  EXPECT_EQ(load_error(R"({"tables": {"nat": {"PREROUTING": {"policy": {"ipv4": "DROP"}}}}})"),
            "r.json:1:55: /tables/nat/PREROUTING/policy/ipv4: the nat table does not allow a DROP "
            "policy");
  EXPECT_EQ(load_error(R"({"families": "ipv4", "tables": {"filter": {"INPUT": {"rules": [
      {"match": {"source": "fd00::1"}}]}}}})"),
            "r.json:2:28: /tables/filter/INPUT/rules/0/match/source: this rule applies to IPv6 "
            "only, and table filter covers only ipv4");
}

}  // namespace
}  // namespace verdictd
