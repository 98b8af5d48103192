// The iptables grammar read from the extensions' descriptions: command
// lines, iptables-restore files and shell scripts turned into verdictd's
// JSON, with iptables' errors, and the merge of the two families.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "iptables/arguments.hpp"
#include "iptables/command.hpp"
#include "iptables/edit.hpp"
#include "iptables/import.hpp"
#include "iptables/restore.hpp"
#include "iptables/rule_listing.hpp"
#include "iptables/script.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

namespace verdictd {
namespace {

using Json = nlohmann::ordered_json;

Arguments words(std::string_view line) { return split_restore_line(line); }

Command command(std::string_view line, Family family = Family::kIPv4) {
  return parse_command(words(line), family);
}

Json only_rule(std::string_view line) {
  const Command c = command(line);
  EXPECT_EQ(c.rules.size(), 1U);
  return c.rules.front();
}

// The column an ImportError names.
std::size_t error_column(std::string_view line) {
  try {
    static_cast<void>(command(line));
  } catch (const ImportError& e) {
    return e.column;
  }
  ADD_FAILURE() << "no error for: " << line;
  return 0;
}

TEST(RestoreLineSplit, QuotesAndEscapesAsIptablesRestore) {
  const Arguments a = words(R"(-A INPUT -m comment --comment "a \"b\" c\\d"  -j  ACCEPT)");
  ASSERT_EQ(a.size(), 8U);
  EXPECT_EQ(a[5].text, R"(a "b" c\d)");
  EXPECT_EQ(a[5].column, 31U);
  EXPECT_EQ(a[7].text, "ACCEPT");
  // Single quotes are ordinary characters in a restore file.
  EXPECT_EQ(words("--comment 'x y'").size(), 3U);
  EXPECT_THROW(words(R"(-A INPUT --comment "open)"), ImportError);
}

TEST(ShellLineSplit, QuotesVariablesAndComments) {
  const auto lookup = [](const std::string& name) -> std::optional<std::string> {
    if (name == "LAN") return "eth1";
    return std::nullopt;
  };
  const Arguments a =
      split_shell_line(R"(iptables -A FORWARD -i "$LAN" -m comment --comment 'a b' # why)", lookup);
  ASSERT_EQ(a.size(), 9U);
  EXPECT_EQ(a[4].text, "eth1");
  EXPECT_EQ(a[8].text, "a b");
  EXPECT_EQ(split_shell_line("x ${LAN}0", lookup)[1].text, "eth10");
  EXPECT_THROW(split_shell_line("iptables -i $WAN", lookup), ImportError);
}

TEST(RuleOptions, ShortAndLongSpellingsGiveOneRule) {
  const Json a = only_rule("-A INPUT -p tcp --dport 22 -s 10.0.0.0/8 -j ACCEPT");
  const Json b = only_rule(
      "--append INPUT --protocol tcp -m tcp --destination-port ssh --source 10.0.0.0/255.0.0.0 "
      "--jump ACCEPT");
  EXPECT_EQ(a.dump(),
            R"({"match":{"protocol":"tcp","source":"10.0.0.0/8","dport":22},"target":"ACCEPT"})");
  EXPECT_EQ(rule_save_text(a, TableId::kFilter, Family::kIPv4),
            rule_save_text(b, TableId::kFilter, Family::kIPv4));
  EXPECT_EQ(rule_save_text(b, TableId::kFilter, Family::kIPv4),
            " -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT");
}

TEST(RuleOptions, NegationBeforeTheOption) {
  const Json rule =
      only_rule("-A INPUT ! -s 10.0.0.1 -p tcp ! --syn -m conntrack ! --ctstate NEW -j DROP");
  EXPECT_EQ(rule["match"].dump(),
            R"({"protocol":"tcp","!source":"10.0.0.1","!syn":true,"!ctstate":"NEW"})");
  // iptables 1.8 refuses "!" after the option.
  EXPECT_THROW(command("-A INPUT -s ! 10.0.0.1 -j DROP"), ImportError);
  EXPECT_EQ(error_column("-A INPUT ! ! -s 1.2.3.4"), 12U);
}

TEST(RuleOptions, MembersAndArgumentsFromTheDescriptions) {
  EXPECT_EQ(only_rule("-A INPUT -p tcp --tcp-flags SYN,ACK SYN -j DROP")["match"].dump(),
            R"({"protocol":"tcp","tcp_flags":{"mask":"SYN,ACK","compare":"SYN"}})");
  EXPECT_EQ(
      only_rule("-A INPUT -m connlimit --connlimit-above 2 --connlimit-daddr -j DROP")["match"]
          .dump(),
      R"({"connlimit":{"above":2,"by":"destination"}})");
  EXPECT_EQ(
      only_rule("-A INPUT -m recent ! --rcheck --name K --seconds 10 --rsource")["match"].dump(),
      R"({"!recent":{"rcheck":true,"name":"K","seconds":10,"side":"source"}})");
  EXPECT_EQ(only_rule("-A INPUT -j LOG --log-prefix \"x y\" --log-level 4")["target"].dump(),
            R"({"LOG":{"log_prefix":"x y","log_level":4}})");
  // An abbreviation getopt_long accepts: --to for REDIRECT's --to-ports.
  const Command redirect = parse_command(words("-A PREROUTING -p tcp -j REDIRECT --to 8080"),
                                         Family::kIPv4, TableId::kNat);
  EXPECT_EQ(redirect.rules.front()["target"].dump(), R"({"REDIRECT":{"to_ports":8080}})");
}

TEST(RuleOptions, AddressListsMakeOneRuleEach) {
  const Command c = command("-A INPUT -s 10.0.0.1,10.0.0.2 -d 10.9.0.0/16 -j DROP");
  ASSERT_EQ(c.rules.size(), 2U);
  EXPECT_EQ(c.rules[1]["match"]["source"], "10.0.0.2");
}

TEST(RuleOptions, CommentIsTheRulesComment) {
  const Json rule = only_rule("-A INPUT -p udp --dport 53 -m comment --comment \"dns\" -j ACCEPT");
  EXPECT_EQ(rule["comment"], "dns");
  EXPECT_EQ(rule_save_text(rule, TableId::kFilter, Family::kIPv4),
            " -p udp -m udp --dport 53 -m comment --comment dns -j ACCEPT");
}

TEST(RuleOptions, ErrorsNameTheColumn) {
  EXPECT_EQ(error_column("-A INPUT -p tcp --bogus 1"), 17U);
  EXPECT_EQ(error_column("-A INPUT -m nosuch --x"), 13U);
  // A value the option refuses: the option's column.
  EXPECT_EQ(error_column("-A INPUT -p tcp --dport 99999"), 17U);
  EXPECT_EQ(error_column("-A INPUT -m recent --set -m recent --rcheck"), 29U);
  EXPECT_EQ(error_column("-A INPUT -s 1.2.3.4 -s 2.3.4.5"), 21U);
  EXPECT_EQ(error_column("-A INPUT -m tcp -j ACCEPT"), 13U);
}

FamilyTables tables_after(std::initializer_list<std::string_view> lines) {
  FamilyTables tables = empty_tables(Family::kIPv4);
  for (std::string_view line : lines) apply_command(tables, command(line));
  return tables;
}

int status_of(FamilyTables& tables, std::string_view line) {
  try {
    apply_command(tables, command(line));
  } catch (const CommandError& e) {
    return e.status;
  }
  return 0;
}

TEST(Edit, CommandsAsIptablesCarriesThemOut) {
  FamilyTables t = tables_after(
      {"-N f2b", "-A f2b -j RETURN", "-I INPUT -p tcp --dport 22 -j f2b",
       "-I f2b 1 -s 192.0.2.7 -j REJECT --reject-with icmp-port-unreachable", "-P INPUT DROP"});
  EXPECT_EQ(list_rules(t, TableId::kFilter, "", std::nullopt),
            "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N f2b\n"
            "-A INPUT -p tcp -m tcp --dport 22 -j f2b\n"
            "-A f2b -s 192.0.2.7/32 -j REJECT --reject-with icmp-port-unreachable\n"
            "-A f2b -j RETURN\n");
  // -C and -D find a rule by what it does, however it is spelled.
  EXPECT_EQ(status_of(t, "-C INPUT -p tcp -m tcp --destination-port ssh -j f2b"), 0);
  EXPECT_EQ(status_of(t, "-C INPUT -p tcp --dport 23 -j f2b"), 1);
  EXPECT_EQ(status_of(t, "-X f2b"), 1);  // Too many links
  EXPECT_EQ(status_of(t, "-N f2b"), 1);
  EXPECT_EQ(status_of(t, "-A INPUT -j nosuch"), 2);
  EXPECT_EQ(status_of(t, "-D f2b 3"), 1);
  EXPECT_EQ(status_of(t, "-D f2b -s 192.0.2.7 -j REJECT --reject-with icmp-port-unreachable"), 0);
  EXPECT_EQ(status_of(t, "-D f2b -s 192.0.2.7 -j REJECT"), 1);
  EXPECT_EQ(status_of(t, "-D INPUT 1"), 0);
  EXPECT_EQ(status_of(t, "-F f2b"), 0);
  EXPECT_EQ(status_of(t, "-E f2b jail"), 0);
  EXPECT_EQ(status_of(t, "-X"), 0);
  EXPECT_EQ(list_rules(t, TableId::kFilter, "", std::nullopt),
            "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n");
  EXPECT_EQ(error_text(Family::kIPv4, {1, "Bad rule (does a matching rule exist in that chain?)"}),
            "iptables: Bad rule (does a matching rule exist in that chain?).\n");
}

TEST(Restore, ReplacesTheTablesItNames) {
  FamilyTables t = tables_after({"-A OUTPUT -j ACCEPT"});
  restore_tables(t,
                 "# a comment\n*filter\n:INPUT DROP [10:600]\n:web - [0:0]\n"
                 "[3:180] -A INPUT -p tcp -m multiport --dports 80,443 -j web\n-A web -j ACCEPT\n"
                 "COMMIT\n",
                 "rules.v4", {});
  EXPECT_EQ(list_rules(t, TableId::kFilter, "", std::nullopt),
            "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N web\n"
            "-A INPUT -p tcp -m multiport --dports 80,443 -j web\n-A web -j ACCEPT\n");
}

std::string restore_error(std::string_view text) {
  FamilyTables t = empty_tables(Family::kIPv4);
  try {
    restore_tables(t, text, "f", {});
  } catch (const LineError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Restore, ErrorsNameLineAndColumn) {
  EXPECT_EQ(restore_error("*filter\n-A INPUT --comment \"x\nCOMMIT\n"),
            "f:2:20: unterminated quotes");
  EXPECT_EQ(restore_error("*filter\n-A INPUT -j ACCEPT\n"),
            "f:3:1: COMMIT expected: table 'filter' (line 1) is not committed");
  EXPECT_EQ(restore_error("*filter\n-A NOPE -j ACCEPT\nCOMMIT\n"),
            "f:2:1: No chain/target/match by that name");
  EXPECT_EQ(restore_error("-A INPUT -j ACCEPT\n"),
            "f:1:1: a line outside a table (a \"*TABLE\" line must come first)");
  EXPECT_EQ(restore_error("*filter\n-t nat -A INPUT -j ACCEPT\nCOMMIT\n"),
            "f:2:1: The -t option cannot be used in iptables-restore");
}

TEST(Script, ImportsIptablesLinesAndListsTheRest) {
  const Script script = parse_script(
      "#!/bin/sh\nIPT=/sbin/iptables\nLAN=eth1\nmodprobe nf_conntrack\n"
      "$IPT -P INPUT DROP\n$IPT -A INPUT -i \"$LAN\" \\\n  -p tcp --dport 22 -j ACCEPT\n"
      "ip6tables -A INPUT -p ipv6-icmp -j ACCEPT\niptables -L -n\n",
      "fw.sh");
  ASSERT_EQ(script.commands.size(), 3U);
  EXPECT_EQ(script.commands[1].line, 6U);
  EXPECT_EQ(script.commands[1].command.rules.front()["match"]["in_interface"], "eth1");
  EXPECT_EQ(script.commands[2].command.family, Family::kIPv6);
  ASSERT_EQ(script.skipped.size(), 2U);
  EXPECT_EQ(script.skipped[0].text, "modprobe nf_conntrack");
  EXPECT_EQ(script.skipped[1].line, 9U);
}

TEST(Import, BothFamiliesMergeWithCommonRulesOnce) {
  const Imported imported = import_rules(
      {{ImportInput::Kind::kRestore, Family::kIPv4, "rules.v4",
        "*filter\n:INPUT DROP [0:0]\n:v4only - [0:0]\n-A INPUT -i lo -j ACCEPT\n"
        "-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p icmp -j ACCEPT\n-A INPUT -j "
        "v4only\nCOMMIT\n"},
       {ImportInput::Kind::kRestore, Family::kIPv6, "rules.v6",
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p ipv6-icmp -j ACCEPT\n"
        "-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"}});
  const Json& input = imported.ruleset["tables"]["filter"]["INPUT"];
  EXPECT_EQ(input["policy"], "DROP");
  ASSERT_EQ(input["rules"].size(), 5U);
  EXPECT_FALSE(input["rules"][0].contains("family"));
  EXPECT_EQ(imported.ruleset["tables"]["filter"]["v4only"]["families"], "ipv4");
  const auto ruleset = load_ruleset_text(format_ruleset(imported.ruleset), "merged");
  EXPECT_EQ(
      save_ruleset(*ruleset, Family::kIPv4)
          .substr(save_ruleset(*ruleset, Family::kIPv4).find('\n') + 1),
      "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      ":v4only - [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "-A INPUT -p icmp -j ACCEPT\n-A INPUT -j v4only\nCOMMIT\n");
  const std::string v6 = save_ruleset(*ruleset, Family::kIPv6);
  EXPECT_EQ(v6.substr(v6.find('\n') + 1),
            "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -i lo -j ACCEPT\n-A INPUT -p ipv6-icmp -j ACCEPT\n"
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n");
}

TEST(Import, OneFamilyCoversOnlyIt) {
  const Imported imported = import_rules({{ImportInput::Kind::kRestore, Family::kIPv4, "r",
                                           "*filter\n-A INPUT -p tcp -j DROP\nCOMMIT\n"}});
  EXPECT_EQ(imported.ruleset["families"], "ipv4");
  EXPECT_FALSE(imported.ruleset["tables"]["filter"]["INPUT"]["rules"][0].contains("family"));
}

}  // namespace
}  // namespace verdictd
