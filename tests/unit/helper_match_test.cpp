// -m helper: which connections it passes (only expected ones, by the name of
// the helper that expected them, compared as xt_helper compares it), its
// errors, and its listing and iptables-save text as iptables 1.8.9 prints them.
#include <gtest/gtest.h>

#include "conntrack/flow.hpp"
#include "extension/match.hpp"
#include "extension_builders.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

// A connection the helper named `helper` expected ("" for none).
PacketConntrack expected_by(std::string_view helper) {
  PacketConntrack ct;
  ct.state = CtState::kRelated;
  ct.has_flow = true;
  ct.flow.status = ctstatus::kExpected;
  std::copy(helper.begin(), helper.end(), ct.flow.helper.begin());
  return ct;
}

bool hits(const Match& match, PacketConntrack* ct) {
  EvalState state;
  state.conntrack = ct;
  return match.matches(PacketView::parse({}), state);
}

TEST(HelperMatch, PassesConnectionsThatHelperExpected) {
  const auto ftp = build(R"({"helper": "ftp"})", "helper");
  PacketConntrack by_ftp = expected_by("ftp");
  PacketConntrack by_irc = expected_by("irc");
  EXPECT_TRUE(hits(*ftp, &by_ftp));
  EXPECT_FALSE(hits(*ftp, &by_irc));
}

TEST(HelperMatch, RuleNameMustBeginWithTheHelpersName) {
  // helper_mt compares over the length of the helper's name.
  PacketConntrack by_ftp = expected_by("ftp");
  EXPECT_TRUE(hits(*build(R"({"helper": "ftp-2121"})", "helper"), &by_ftp));
  EXPECT_FALSE(hits(*build(R"({"helper": "ft"})", "helper"), &by_ftp));
  EXPECT_FALSE(hits(*build(R"({"helper": "FTP"})", "helper"), &by_ftp));
  PacketConntrack by_ftp_2121 = expected_by("ftp-2121");
  EXPECT_FALSE(hits(*build(R"({"helper": "ftp"})", "helper"), &by_ftp_2121));
}

TEST(HelperMatch, EmptyNamePassesAnyHelper) {
  const auto any = build(R"({"helper": ""})", "helper");
  PacketConntrack by_irc = expected_by("irc");
  PacketConntrack without_helper = expected_by("");
  EXPECT_TRUE(hits(*any, &by_irc));
  EXPECT_FALSE(hits(*any, &without_helper));
}

TEST(HelperMatch, ConnectionsNoHelperExpectedPassOnlyNegated) {
  const auto ftp = build(R"({"helper": "ftp"})", "helper");
  const auto not_ftp = build(R"({"!helper": "ftp"})", "helper");
  const auto not_any = build(R"({"!helper": ""})", "helper");
  PacketConntrack established;
  established.state = CtState::kEstablished;
  established.has_flow = true;
  PacketConntrack no_flow;
  for (PacketConntrack* ct : {&established, &no_flow, static_cast<PacketConntrack*>(nullptr)}) {
    EXPECT_FALSE(hits(*ftp, ct));
    EXPECT_TRUE(hits(*not_ftp, ct));
    EXPECT_TRUE(hits(*not_any, ct));
  }
  PacketConntrack by_ftp = expected_by("ftp");
  PacketConntrack by_irc = expected_by("irc");
  EXPECT_FALSE(hits(*not_ftp, &by_ftp));
  EXPECT_TRUE(hits(*not_ftp, &by_irc));
  EXPECT_FALSE(hits(*not_any, &by_irc));
}

TEST(HelperMatch, NamesLongerThanTheKernelsAreRefused) {
  EXPECT_EQ(build_error(R"({"helper": "abcdefghijabcdefghijabcdefghi"})", "helper"), "built");
  EXPECT_NE(build_error(R"({"helper": "abcdefghijabcdefghijabcdefghij"})", "helper"), "built");
  EXPECT_NE(build_error(R"({"helper": 21})", "helper"), "built");
}

TEST(HelperMatch, ListAndSaveAsIptables) {
  // iptables-legacy 1.8.9 -L -n and -S of the same rules.
  const auto ftp = build(R"({"helper": "ftp"})", "helper");
  EXPECT_EQ(listed(*ftp), R"(helper match "ftp")");
  EXPECT_EQ(saved(*ftp), " -m helper --helper ftp");
  const auto not_ftp = build(R"({"!helper": "ftp"})", "helper");
  EXPECT_EQ(listed(*not_ftp), R"(helper match ! "ftp")");
  EXPECT_EQ(saved(*not_ftp), " -m helper ! --helper ftp");
  const auto any = build(R"({"helper": ""})", "helper");
  EXPECT_EQ(listed(*any), R"(helper match "")");
  EXPECT_EQ(saved(*any), R"( -m helper --helper "")");
  const auto spaced = build(R"({"helper": "a b"})", "helper");
  EXPECT_EQ(listed(*spaced), R"(helper match "a b")");
  EXPECT_EQ(saved(*spaced), R"( -m helper --helper "a b")");
}

}  // namespace
}  // namespace verdictd
