// `verdictctl list` and `verdictctl export` against what iptables 1.8.9
// itself prints for the same rules (captured from iptables-legacy -L -v -n
// --line-numbers and iptables-legacy-save in a namespace).
#include <gtest/gtest.h>

#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

namespace verdictd {
namespace {

const char* const kRuleset = R"({"tables": {"filter": {
  "INPUT": {"policy": "DROP", "rules": [
    {"match": {"source": "10.0.0.5", "protocol": "tcp", "dport": 22}, "target": "ACCEPT"},
    {"match": {"in_interface": "lo"}, "target": "ACCEPT"},
    {"match": {"protocol": "udp", "!dport": [80, 443]}, "jump": "web"},
    {"comment": "hi there", "goto": "web"},
    {"match": {"!source": "10.0.0.0/8", "fragment": true}}]},
  "web": {"rules": [
    {"target": {"MARK": {"set_xmark": "0x2/0xff"}}},
    {"match": {"protocol": "icmp", "icmp_type": 8}, "target": "RETURN"}]}}}})";

TEST(ListSave, ListingHasIptablesLayout) {
  auto rs = load_ruleset_text(kRuleset, "t");
  ListOptions options;
  options.verbose = true;
  options.line_numbers = true;
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options),
            "Chain INPUT (policy DROP 0 packets, 0 bytes)\n"
            "num   pkts bytes target     prot opt in     out     source               destination\n"
            "1        0     0 ACCEPT     6    --  *      *       10.0.0.5             0.0.0.0/0  "
            "          tcp dpt:22\n"
            "2        0     0 ACCEPT     0    --  lo     *       0.0.0.0/0            0.0.0.0/0\n"
            "3        0     0 web        17   --  *      *       0.0.0.0/0            0.0.0.0/0  "
            "          multiport dports  !80,443\n"
            "4        0     0 web        0    --  *      *       0.0.0.0/0            0.0.0.0/0  "
            "         [goto]  /* hi there */\n"
            "5        0     0            0    -f  *      *      !10.0.0.0/8           0.0.0.0/0\n"
            "\n"
            "Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)\n"
            "num   pkts bytes target     prot opt in     out     source               destination\n"
            "\n"
            "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)\n"
            "num   pkts bytes target     prot opt in     out     source               destination\n"
            "\n"
            "Chain web (2 references)\n"
            "num   pkts bytes target     prot opt in     out     source               destination\n"
            "1        0     0 MARK       0    --  *      *       0.0.0.0/0            0.0.0.0/0  "
            "          MARK xset 0x2/0xff\n"
            "2        0     0 RETURN     1    --  *      *       0.0.0.0/0            0.0.0.0/0  "
            "          icmptype 8\n");
}

TEST(ListSave, ShortListingAndOneChain) {
  auto rs = load_ruleset_text(kRuleset, "t");
  ListOptions options;
  options.chain = "web";
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options),
            "Chain web (2 references)\n"
            "target     prot opt source               destination\n"
            "MARK       0    --  0.0.0.0/0            0.0.0.0/0            MARK xset 0x2/0xff\n"
            "RETURN     1    --  0.0.0.0/0            0.0.0.0/0            icmptype 8\n");
  options.chain = "nope";
  EXPECT_THROW(list_table(*rs, RulesetState(*rs), options), std::invalid_argument);
}

TEST(ListSave, CountersShrinkLikeIptables) {
  auto rs = load_ruleset_text(kRuleset, "t");
  const RulesetState counted(*rs);
  Counters& rule = counted.chain(TableId::kFilter, 0).rules[1]->counters;
  rule.packets = 123456;
  rule.bytes = 98765432;
  ListOptions options;
  options.verbose = true;
  options.chain = "INPUT";
  const std::string text = list_table(*rs, counted, options);
  EXPECT_NE(text.find(" 123K   99M ACCEPT     0    --  lo"), std::string::npos) << text;
  counted.zero_counters();
  EXPECT_EQ(rule.packets, 0U);
}

TEST(ListSave, ExactCountersLikeIptablesX) {
  auto rs = load_ruleset_text(kRuleset, "t");
  const RulesetState counted(*rs);
  const ChainState& input = counted.chain(TableId::kFilter, 0);
  input.rules[1]->counters.packets = 123456;
  input.rules[1]->counters.bytes = 98765432;
  input.policy(Family::kIPv4).bytes = 4567890;
  ListOptions options;
  options.verbose = true;
  options.exact = true;
  options.line_numbers = true;
  options.chain = "INPUT";
  const std::string text = list_table(*rs, counted, options);
  // As iptables-legacy -L -v -x -n --line-numbers prints them.
  EXPECT_NE(text.find("(policy DROP 0 packets, 4567890 bytes)\n"
                      "num      pkts      bytes target     prot opt in     out     source"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n2      123456 98765432 ACCEPT     0    --  lo"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\n1           0        0 ACCEPT     6    --  *"), std::string::npos) << text;
}

TEST(ListSave, ExportIsWhatIptablesSavePrints) {
  auto rs = load_ruleset_text(kRuleset, "t");
  EXPECT_EQ(save_ruleset(*rs, Family::kIPv4),
            "# verdictd ruleset t for iptables-restore\n"
            "*filter\n"
            ":INPUT DROP [0:0]\n"
            ":FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n"
            ":web - [0:0]\n"
            "-A INPUT -s 10.0.0.5/32 -p tcp -m tcp --dport 22 -j ACCEPT\n"
            "-A INPUT -i lo -j ACCEPT\n"
            "-A INPUT -p udp -m multiport ! --dports 80,443 -j web\n"
            "-A INPUT -m comment --comment \"hi there\" -g web\n"
            "-A INPUT ! -s 10.0.0.0/8 -f\n"
            "-A web -j MARK --set-xmark 0x2/0xff\n"
            "-A web -p icmp -m icmp --icmp-type 8 -j RETURN\n"
            "COMMIT\n");
}

TEST(ListSave, ExportSplitsFamiliesAndLeavesOutUntouchedTables) {
  auto rs = load_ruleset_text(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"source": "10.0.0.1"}, "target": "DROP"},
      {"match": {"source": "2001:db8::1"}, "target": "DROP"},
      {"match": {"protocol": "tcp"}, "target": "ACCEPT"}]}}}})",
                              "t");
  const std::string v6 = save_ruleset(*rs, Family::kIPv6);
  EXPECT_EQ(v6,
            "# verdictd ruleset t for ip6tables-restore\n"
            "*filter\n"
            ":INPUT ACCEPT [0:0]\n"
            ":FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -s 2001:db8::1/128 -j DROP\n"
            "-A INPUT -p tcp -j ACCEPT\n"
            "COMMIT\n");
  EXPECT_EQ(save_ruleset(*rs, Family::kIPv4).find("2001:db8"), std::string::npos);
}

}  // namespace
}  // namespace verdictd
