// -m quota: the quota counted down by packet lengths, spent for good once a
// packet does not fit, negation, and the text iptables 1.8.9 prints.
#include <gtest/gtest.h>

#include <vector>

#include "extension_builders.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

using test::build;
using test::listed;
using test::saved;

// Whether each packet of these IPv4 lengths matches, in turn.
std::vector<bool> verdicts(const Match& match, const std::vector<std::uint32_t>& lengths) {
  const test::ExtensionSlot slot(match);
  std::vector<bool> results;
  for (const std::uint32_t length : lengths) {
    PacketView packet = PacketView::parse({});
    packet.length = length;
    EvalState eval;
    results.push_back(match.matches(packet, slot.in(eval)));
  }
  return results;
}

TEST(QuotaMatch, CountsDownAndStaysSpent) {
  const auto quota = build(R"({"quota": 1000})", "quota");
  // 600 + 400 fill it exactly; 100 does not fit and spends it; then even 1 byte fails.
  EXPECT_EQ(verdicts(*quota, {600, 400, 100, 1}), (std::vector{true, true, false, false}));
  EXPECT_EQ(verdicts(*quota, {600, 500, 400}), (std::vector{true, false, false}));
  const auto negated = build(R"({"!quota": 1000})", "!quota");
  EXPECT_EQ(verdicts(*negated, {600, 500, 100}), (std::vector{false, true, true}));
}

TEST(QuotaMatch, TextAsIptablesPrintsIt) {
  EXPECT_EQ(listed(*build(R"({"quota": 1000})", "quota")), "quota: 1000 bytes");
  EXPECT_EQ(listed(*build(R"({"!quota": 1000})", "!quota")), "quota: 1000 bytes");
  EXPECT_EQ(saved(*build(R"({"quota": "18446744073709551615"})", "quota")),
            " -m quota --quota 18446744073709551615");
  EXPECT_EQ(saved(*build(R"({"!quota": 1000})", "!quota")), " -m quota ! --quota 1000");
  EXPECT_NE(test::build_error(R"({"quota": "10k"})", "quota"), "built");
}

}  // namespace
}  // namespace verdictd
