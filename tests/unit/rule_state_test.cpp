// The runtime state beside the ruleset (ruleset/rule_state.hpp): counters and
// extension state carried across a reload by rule identity (the nth identical
// rule of a chain pairs with the nth), fresh for changed and new rules, and
// named state kept by name.
#include "ruleset/rule_state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "packets.hpp"
#include "pipeline/engine.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

const auto kUdp = test::ipv4_packet(17, "10.0.0.5", "10.0.0.1", 5353, 53);

// The daemon's reload: the new ruleset's state from the one in force.
test::RulesetWithState reloaded(const test::RulesetWithState& previous, const std::string& text) {
  std::shared_ptr<const Ruleset> next = load_ruleset_text(text, "t");
  const RulesetInForce in_force{previous.ruleset, previous.state};
  auto state = std::make_shared<RulesetState>(*next, &in_force);
  return {std::move(next), std::move(state)};
}

void send(const test::RulesetWithState& rs, int packets) {
  for (int i = 0; i < packets; ++i) {
    EvalState state;
    state.hook = Hook::kInput;
    evaluate_table(rs.ruleset->table(TableId::kFilter), PacketView::parse(kUdp),
                   rs.with_state(state));
  }
}

std::uint64_t packets(const test::RulesetWithState& rs, std::size_t rule) {
  return rs.chain(TableId::kFilter, "INPUT").rules[rule]->counters.packets;
}

TEST(RuleState, CountersFollowIdenticalRulesInOrder) {
  auto before = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "tcp"}}, {"match": {"protocol": "udp"}}, {"match": {"protocol": "udp"}}]}}}})");
  const ChainState& old_input = before.chain(TableId::kFilter, "INPUT");
  old_input.rules[0]->counters.add(100);
  old_input.rules[1]->counters.add(10);
  old_input.rules[2]->counters.add(20);
  old_input.rules[2]->counters.add(20);
  old_input.policy(Family::kIPv4).add(7);
  auto after = reloaded(before, R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "udp"}}, {"match": {"protocol": "icmp"}}, {"match": {"protocol": "udp"}}]}}}})");
  const ChainState& input = after.chain(TableId::kFilter, "INPUT");
  EXPECT_EQ(input.rules[0]->counters.packets, 1U);  // the first udp rule's
  EXPECT_EQ(input.rules[0]->counters.bytes, 10U);
  EXPECT_EQ(input.rules[1]->counters.packets, 0U);  // new
  EXPECT_EQ(input.rules[2]->counters.packets, 2U);  // the second udp rule's
  EXPECT_EQ(input.policy(Family::kIPv4).bytes, 7U);
  // Shared, not copied: what the old ruleset still counts during the swap is kept.
  send(before, 1);
  EXPECT_EQ(input.rules[0]->counters.packets, 2U);
}

TEST(RuleState, SameTextInAnotherChainOrTableIsAnotherRule) {
  auto before = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "udp"}}]}}}})");
  send(before, 3);
  auto after = reloaded(before, R"({"tables": {
      "filter": {"FORWARD": {"rules": [{"match": {"protocol": "udp"}}]}},
      "mangle": {"INPUT": {"rules": [{"match": {"protocol": "udp"}}]}}}})");
  EXPECT_EQ(after.chain(TableId::kFilter, "FORWARD").rules[0]->counters.packets, 0U);
  EXPECT_EQ(after.chain(TableId::kMangle, "INPUT").rules[0]->counters.packets, 0U);
  EXPECT_EQ(after.chain(TableId::kFilter, "INPUT").policy(Family::kIPv4).packets, 3U);
}

TEST(RuleState, UnchangedRulesKeepTheirMatchStateChangedRulesStartAgain) {
  // Two rules alike but for their comment, each counting every third packet.
  auto before = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"comment": "kept", "match": {"statistic": {"mode": "nth", "every": 3}}},
      {"comment": "changed", "match": {"statistic": {"mode": "nth", "every": 3}}}]}}}})");
  send(before, 2);  // both matched packet 1; packet 4 would be their next
  EXPECT_EQ(packets(before, 0), 1U);
  EXPECT_EQ(packets(before, 1), 1U);
  // A new rule in front, the second one's comment changed.
  auto after = reloaded(before, R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "tcp"}},
      {"comment": "kept", "match": {"statistic": {"mode": "nth", "every": 3}}},
      {"comment": "changed again", "match": {"statistic": {"mode": "nth", "every": 3}}}]}}}})");
  send(after, 1);
  EXPECT_EQ(packets(after, 1), 1U);  // its 3rd packet: not yet
  EXPECT_EQ(packets(after, 2), 1U);  // fresh: its 1st packet matched
  send(after, 1);
  EXPECT_EQ(packets(after, 1), 2U);  // its 4th
  EXPECT_EQ(packets(after, 2), 1U);
}

TEST(RuleState, ZeroingKeepsTheMatchState) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"statistic": {"mode": "nth", "every": 2}}}]}}}})");
  send(rs, 1);
  rs.state->zero_counters();
  EXPECT_EQ(packets(rs, 0), 0U);
  send(rs, 2);  // packets 2 and 3: the 3rd matches
  EXPECT_EQ(packets(rs, 0), 1U);
}

// A match with named state, as recent and hashlimit will have: it counts the
// packets every rule naming the same table has seen.
struct Tally final : ExtensionState {
  std::atomic<int> seen{0};
};

class NamedTally final : public Match {
 public:
  explicit NamedTally(std::string name) : name_(std::move(name)) {}
  [[nodiscard]] std::unique_ptr<ExtensionState> make_state() const override {
    return std::make_unique<Tally>();
  }
  [[nodiscard]] std::optional<StateName> state_name() const override {
    return StateName{"tally", name_};
  }
  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    ++extension_state<Tally>(state).seen;
    return true;
  }
  void list(ListRow& /*row*/) const override {}
  void save(SaveLine& /*line*/) const override {}

 private:
  std::string name_;
};

// The ruleset of `text` with a NamedTally of each name added to INPUT's rules.
test::RulesetWithState with_tallies(const std::string& text, const std::vector<std::string>& names,
                                    const test::RulesetWithState* previous = nullptr) {
  std::shared_ptr<Ruleset> ruleset = load_ruleset_text(text, "t");
  Table& filter = ruleset->table(TableId::kFilter);
  const auto input =
      static_cast<std::size_t>(filter.builtin[static_cast<std::size_t>(Hook::kInput)]);
  std::vector<Rule>& rules = filter.chains[input].rules;
  for (std::size_t r = 0; r < names.size(); ++r) {
    rules[r].matches.push_back(std::make_unique<NamedTally>(names[r]));
  }
  std::optional<RulesetInForce> in_force;
  if (previous != nullptr) in_force = RulesetInForce{previous->ruleset, previous->state};
  auto state = std::make_shared<RulesetState>(*ruleset, in_force ? &*in_force : nullptr);
  return {std::move(ruleset), std::move(state)};
}

int seen(const test::RulesetWithState& rs, std::size_t rule) {
  const RuleState& state = *rs.chain(TableId::kFilter, "INPUT").rules[rule];
  return static_cast<Tally*>(state.slot(0))->seen;
}

TEST(RuleState, NamedStateIsSharedAndKeptByName) {
  auto before = with_tallies(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"comment": "a"}, {"comment": "b"}, {"comment": "c"}]}}}})",
                             {"x", "x", "y"});
  send(before, 2);
  EXPECT_EQ(seen(before, 0), 4);  // x: both rules
  EXPECT_EQ(seen(before, 2), 2);  // y
  // Every rule changed; one still names x, one names z.
  auto after = with_tallies(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"comment": "d"}, {"comment": "e"}]}}}})",
                            {"z", "x"}, &before);
  send(after, 1);
  EXPECT_EQ(seen(after, 1), 5);  // x kept by name
  EXPECT_EQ(seen(after, 0), 1);  // z new
  // y was named by no rule of `after`: gone, and fresh when named again.
  auto again = with_tallies(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"comment": "f"}]}}}})",
                            {"y"}, &after);
  send(again, 1);
  EXPECT_EQ(seen(again, 0), 1);
}

}  // namespace
}  // namespace verdictd
