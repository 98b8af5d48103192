// list:set members' own extensions and positions (set/list_set.hpp), as
// ip_set_list_set.c has them: before/after in add, del and test, exist, a
// member's timeout, counters compared by the set match, comments, and the
// ipset text they are listed and saved in.
#include "set/list_set.hpp"

#include <gtest/gtest.h>

#include "extension/error.hpp"
#include "set/ipset_text.hpp"
#include "set/set_element.hpp"

namespace verdictd {
namespace {

constexpr SetTime kNow = 1'000'000;

std::shared_ptr<IpSet> member_set(const std::string& name) {
  SetOptions o;
  o.type = find_set_type("hash:ip");
  o.family = Family::kIPv4;
  return std::make_shared<IpSet>(name, o);
}

ListMemberSpec spec(const ListSet& list, const std::string& text,
                    ListPosition* position = nullptr) {
  return parse_list_member(text, list.options(), position);
}

ListSet::Result add(ListSet& list, const std::string& text, SetTime now = kNow,
                    bool exist = false) {
  ListPosition position;
  const ListMemberSpec member = spec(list, text, &position);
  return list.add(member_set(member.name), member, position, exist, now);
}

std::string members(const ListSet& list, SetTime now = kNow) {
  std::string out;
  for (const ListedElement& member : list.list(now)) {
    out += (out.empty() ? "" : ",") + member.text + element_options_text(member);
  }
  return out;
}

ListPosition at(ListPosition::Side side, const std::string& reference) {
  return {.side = side, .reference = reference};
}

TEST(ListSetMembers, BeforeAndAfterPlaceAndCheck) {
  ListSet list("l", {});
  ASSERT_EQ(add(list, "a"), ListSet::Result::kDone);
  ASSERT_EQ(add(list, "c"), ListSet::Result::kDone);
  EXPECT_EQ(add(list, "b before c"), ListSet::Result::kDone);
  EXPECT_EQ(add(list, "d after c"), ListSet::Result::kDone);
  EXPECT_EQ(add(list, "z after nothing"), ListSet::Result::kNoReference);
  EXPECT_EQ(add(list, "a"), ListSet::Result::kExists);
  EXPECT_EQ(members(list), "a,b,c,d");
  using Side = ListPosition::Side;
  EXPECT_TRUE(list.test("b", at(Side::kBefore, "c"), kNow));
  EXPECT_TRUE(list.test("b", at(Side::kAfter, "a"), kNow));
  EXPECT_FALSE(list.test("b", at(Side::kBefore, "d"), kNow));
  EXPECT_FALSE(list.test("a", at(Side::kAfter, "d"), kNow));
  EXPECT_EQ(list.del("b", at(Side::kBefore, "d"), kNow), ListSet::Result::kNoReference);
  EXPECT_EQ(list.del("b", at(Side::kAfter, "a"), kNow), ListSet::Result::kDone);
  EXPECT_EQ(list.del("b", {}, kNow), ListSet::Result::kAbsent);
  EXPECT_EQ(members(list), "a,c,d");
}

TEST(ListSetMembers, TimeoutsExpireMembersAndExistRenewsThem) {
  ListSet list("l", {.size = kDefaultListSize, .timeout = 10, .counters = false, .comment = false});
  ASSERT_EQ(add(list, "a"), ListSet::Result::kDone);
  ASSERT_EQ(add(list, "b timeout 2"), ListSet::Result::kDone);
  ASSERT_EQ(add(list, "c timeout 0"), ListSet::Result::kDone);
  EXPECT_EQ(members(list), "a timeout 10,b timeout 2,c timeout 0");
  const SetTime later = kNow + 3'000;
  EXPECT_EQ(members(list, later), "a timeout 7,c timeout 0");
  EXPECT_FALSE(list.test("b", {}, later));
  // The packet path skips it: the first live member is tried, then c.
  std::vector<std::string> tried;
  list.first(
      [&](IpSet& set) {
        tried.push_back(set.name());
        return false;
      },
      later);
  EXPECT_EQ(tried, (std::vector<std::string>{"a", "c"}));
  // An expired member is gone for add: added again, at the end.
  EXPECT_EQ(add(list, "b", later), ListSet::Result::kDone);
  EXPECT_EQ(members(list, later), "a timeout 7,c timeout 0,b timeout 10");
  EXPECT_EQ(add(list, "a timeout 100", later), ListSet::Result::kExists);
  EXPECT_EQ(add(list, "a timeout 100", later, true), ListSet::Result::kDone);
  EXPECT_EQ(members(list, later), "a timeout 100,c timeout 0,b timeout 10");
}

TEST(ListSetMembers, CountersCountMatchesAndAreCompared) {
  ListSet list("l", {.size = kDefaultListSize, .timeout = {}, .counters = true, .comment = false});
  ASSERT_EQ(add(list, "a packets 5 bytes 500"), ListSet::Result::kDone);
  ASSERT_EQ(add(list, "b"), ListSet::Result::kDone);
  const auto in = [](const std::string& name) {
    return [name](IpSet& set) { return set.name() == name; };
  };
  CounterCondition any;
  EXPECT_TRUE(list.first_matching(in("a"), kNow, any, 100));
  EXPECT_EQ(members(list), "a packets 6 bytes 600,b packets 0 bytes 0");
  // --packets-lt 7: a passes once more, then fails (counted anyway).
  CounterCondition below;
  below.packets_op = CounterCondition::Op::kLt;
  below.packets = 8;
  EXPECT_TRUE(list.first_matching(in("a"), kNow, below, 100));
  EXPECT_FALSE(list.first_matching(in("a"), kNow, below, 100));
  EXPECT_EQ(members(list), "a packets 8 bytes 800,b packets 0 bytes 0");
  // ! --update-counters: compared, not counted.
  CounterCondition still = below;
  still.update = false;
  EXPECT_FALSE(list.first_matching(in("a"), kNow, still, 100));
  EXPECT_EQ(members(list), "a packets 8 bytes 800,b packets 0 bytes 0");
}

TEST(ListSetMembers, OptionsTheSetLacksAreRefused) {
  const ListSet plain("l", {});
  EXPECT_THROW(static_cast<void>(spec(plain, "a timeout 5")), ElementError);
  EXPECT_THROW(static_cast<void>(spec(plain, "a packets 1")), ElementError);
  EXPECT_THROW(static_cast<void>(spec(plain, "a comment \"x\"")), ElementError);
  EXPECT_THROW(static_cast<void>(spec(plain, "a nomatch")), ElementError);
  EXPECT_THROW(static_cast<void>(spec(plain, "a before")), ElementError);
  // Positions belong to add, del and test, not to a declared member.
  EXPECT_THROW(static_cast<void>(parse_list_member("a before b", plain.options(), nullptr)),
               ElementError);
}

TEST(ListSetText, SavedWithItsOptionsAndReadBack) {
  ListSet list("l", {.size = 8, .timeout = 600, .counters = true, .comment = true});
  ASSERT_EQ(add(list, "a timeout 0 packets 2 bytes 120 comment \"first\""), ListSet::Result::kDone);
  ASSERT_EQ(add(list, "b before a"), ListSet::Result::kDone);
  const std::string text = ipset_list_text(list, kNow);
  EXPECT_EQ(text,
            "create l list:set size 8 timeout 600 counters comment\n"
            "add l b timeout 600 packets 0 bytes 0\n"
            "add l a timeout 0 packets 2 bytes 120 comment \"first\"\n");
  const std::optional<ListDeclaration> read = read_ipset_list(text, "f", "l");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->options.timeout, 600U);
  EXPECT_TRUE(read->options.counters && read->options.comment);
  ASSERT_EQ(read->members.size(), 2U);
  EXPECT_EQ(read->members[1].name, "a");
  EXPECT_EQ(read->members[1].comment, "first");
  EXPECT_EQ(read->members[1].packets, 2U);
  // A restore file's positions place the members as they are read.
  const std::optional<ListDeclaration> placed =
      read_ipset_list("create l list:set\nadd l a\nadd l c\nadd l b after a\n", "f", "l");
  ASSERT_TRUE(placed);
  EXPECT_EQ(placed->members[1].name, "b");
  try {
    static_cast<void>(read_ipset_list("create l list:set\nadd l b before x\n", "f", "l"));
    ADD_FAILURE() << "a missing reference loaded";
  } catch (const RulesetError& e) {
    EXPECT_STREQ(e.what(), "f:2:7: set x is not in list:set l");
  }
}

}  // namespace
}  // namespace verdictd
