// -m tcpmss: the MSS option wherever it sits among the options, segments
// without it (matched only negated), cut-short headers dropped, and the text
// iptables 1.8.9 lists and saves for the same rules.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::listed;
using test::saved;

std::unique_ptr<Match> mss(const std::string& written_key, const std::string& value) {
  return build(R"({"protocol": "tcp", ")" + written_key + "\": " + value + "}", written_key);
}

using Outcome = test::MatchOutcome;

test::Bytes segment(const test::Bytes& options, std::uint8_t flags = tcpflag::kSyn) {
  return test::ipv4(ipproto::kTcp,
                    test::tcp_header({.sport = 1, .dport = 2, .flags = flags, .options = options}));
}

TEST(Tcpmss, TheOptionsValueInTheRange) {
  const auto range = mss("mss", R"("1000:1460")");
  EXPECT_EQ(test::run_match(*range, segment(test::syn_options(7))),
            (Outcome{true, false}));                                                         // 1460
  EXPECT_EQ(test::run_match(*range, segment({2, 4, 0x03, 0xe7})), (Outcome{false, false}));  // 999
  // After other options, and on a segment that is not a SYN: still read.
  EXPECT_EQ(test::run_match(*range, segment({1, 1, 4, 2, 2, 4, 0x03, 0xe8}, tcpflag::kAck)),
            (Outcome{true, false}));
  // IPv6.
  EXPECT_EQ(test::run_match(*range,
                            test::ipv6(ipproto::kTcp, test::tcp_header({.sport = 1,
                                                                        .dport = 2,
                                                                        .flags = tcpflag::kSyn,
                                                                        .options = {2, 4, 5, 0}}))),
            (Outcome{true, false}));
}

TEST(Tcpmss, WithoutTheOptionOnlyNegatedMatches) {
  EXPECT_EQ(test::run_match(*mss("mss", "536"), segment({})), (Outcome{false, false}));
  EXPECT_EQ(test::run_match(*mss("!mss", "536"), segment({})), (Outcome{true, false}));
  // An MSS kind with a wrong length is not the option.
  EXPECT_EQ(test::run_match(*mss("!mss", "536"), segment({2, 3, 2, 0x18})), (Outcome{true, false}));
  EXPECT_EQ(test::run_match(*mss("!mss", "536"), segment({2, 4, 2, 0x18})),
            (Outcome{false, false}));
}

TEST(Tcpmss, CutShortHeadersAreDropped) {
  // A data offset below 5 words, and options past the end of the packet.
  test::Bytes bad_offset = segment({});
  bad_offset[20 + 12] = 0x40;
  EXPECT_EQ(test::run_match(*mss("!mss", "536"), bad_offset), (Outcome{false, true}));
  test::Bytes cut = segment(test::syn_options(7));
  cut.resize(cut.size() - 4);
  test::put16(cut, 2, static_cast<std::uint16_t>(cut.size()));
  EXPECT_EQ(test::run_match(*mss("mss", "536"), cut), (Outcome{false, true}));
}

TEST(Tcpmss, ListAndSaveAsIptables) {
  EXPECT_EQ(listed(*mss("mss", R"("1000:1460")")), "tcpmss match 1000:1460");
  EXPECT_EQ(listed(*mss("!mss", "536")), "tcpmss match !536");
  EXPECT_EQ(saved(*mss("mss", R"("536:536")")), " -m tcpmss --mss 536");
  EXPECT_EQ(saved(*mss("!mss", "536")), " -m tcpmss ! --mss 536");
}

}  // namespace
}  // namespace verdictd
