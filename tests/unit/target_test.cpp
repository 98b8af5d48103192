// The standard targets and MARK: what they do to a packet, where they are
// allowed, their errors, and their listing and iptables-save text (checked
// against iptables 1.8.9 output).
#include "extension/target.hpp"

#include <gtest/gtest.h>

#include "extension/error.hpp"
#include "extension_builders.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;

const PacketView kPacket{};

TargetAction apply(const Target& target, std::uint32_t& mark) {
  EvalState state;
  state.mark = mark;
  const TargetAction action = target.apply(kPacket, state);
  mark = state.mark;
  return action;
}

TEST(StandardTarget, Verdicts) {
  std::uint32_t mark = 7;
  EXPECT_EQ(apply(*build(R"("ACCEPT")"), mark), TargetAction::kAccept);
  EXPECT_EQ(apply(*build(R"("DROP")"), mark), TargetAction::kDrop);
  EXPECT_EQ(apply(*build(R"("RETURN")"), mark), TargetAction::kReturn);
  EXPECT_EQ(mark, 7U);
}

TEST(StandardTarget, NamesSaveAndTables) {
  for (const char* name : {"ACCEPT", "DROP", "RETURN"}) {
    auto target = build("\"" + std::string(name) + "\"");
    EXPECT_EQ(target->name(), name);
    EXPECT_EQ(target->save(), "-j " + std::string(name));
    EXPECT_EQ(target->list_extra(), "");
    EXPECT_EQ(target->allowed_hooks(), kEveryHook);
    for (TableId table : kAllTables) {
      EXPECT_EQ(build_error("\"" + std::string(name) + "\"", table) == "built",
                std::string(name) != "DROP" || table != TableId::kNat)
          << name << " in " << table_name(table);
    }
  }
}

TEST(StandardTarget, TakeNoOptions) {
  EXPECT_EQ(build_error(R"({"ACCEPT": {}})"),
            R"(: expected no options (write "ACCEPT" as a string), got {})");
  EXPECT_EQ(build_error(R"({"DROP": true})"),
            R"(: expected no options (write "DROP" as a string), got true)");
}

// mark before, the target, mark after.
std::uint32_t marked(const std::string& target_text, std::uint32_t mark) {
  auto target = build(target_text, TableId::kMangle);
  EXPECT_EQ(apply(*target, mark), TargetAction::kContinue);
  return mark;
}

TEST(MarkTarget, EachOperation) {
  EXPECT_EQ(marked(R"({"MARK": {"set_mark": "0x2"}})", 0xffff), 0x2U);
  // set_mark: clear the mask bits, then OR the value.
  EXPECT_EQ(marked(R"({"MARK": {"set_mark": "0x2/0xff"}})", 0xabcd), 0xab02U);
  EXPECT_EQ(marked(R"({"MARK": {"set_mark": "0x3/0x1"}})", 0x0), 0x3U);
  // set_xmark: clear the mask bits, then XOR the value.
  EXPECT_EQ(marked(R"({"MARK": {"set_xmark": "0x2/0xff"}})", 0xabcd), 0xab02U);
  EXPECT_EQ(marked(R"({"MARK": {"set_xmark": "0x3/0x1"}})", 0x3), 0x1U);
  EXPECT_EQ(marked(R"({"MARK": {"set_xmark": 5}})", 0x3), 0x5U);
  EXPECT_EQ(marked(R"({"MARK": {"and_mark": "0xf0"}})", 0xabcd), 0xc0U);
  EXPECT_EQ(marked(R"({"MARK": {"or_mark": "0xf0"}})", 0xab0d), 0xabfdU);
  EXPECT_EQ(marked(R"({"MARK": {"xor_mark": "0xff"}})", 0xab0f), 0xabf0U);
  EXPECT_EQ(marked(R"({"MARK": {"xor_mark": 1}})", 0x1), 0x0U);
}

TEST(MarkTarget, ListAndSaveAsIptables) {
  auto both = [](const char* text) {
    auto target = build(text, TableId::kMangle);
    EXPECT_EQ(target->name(), "MARK");
    return target->list_extra() + " | " + target->save();
  };
  EXPECT_EQ(both(R"({"MARK": {"set_mark": "0x2"}})"),
            "MARK set 0x2 | -j MARK --set-xmark 0x2/0xffffffff");
  EXPECT_EQ(both(R"({"MARK": {"set_mark": "0x2/0xff"}})"),
            "MARK xset 0x2/0xff | -j MARK --set-xmark 0x2/0xff");
  EXPECT_EQ(both(R"({"MARK": {"set_mark": "0x1/0x2"}})"),
            "MARK xset 0x1/0x3 | -j MARK --set-xmark 0x1/0x3");
  EXPECT_EQ(both(R"({"MARK": {"set_xmark": "0x2/0xff"}})"),
            "MARK xset 0x2/0xff | -j MARK --set-xmark 0x2/0xff");
  EXPECT_EQ(both(R"({"MARK": {"set_xmark": "0x2"}})"),
            "MARK set 0x2 | -j MARK --set-xmark 0x2/0xffffffff");
  EXPECT_EQ(both(R"({"MARK": {"and_mark": "0xf0"}})"),
            "MARK and 0xf0 | -j MARK --set-xmark 0x0/0xffffff0f");
  EXPECT_EQ(both(R"({"MARK": {"or_mark": "0xf0"}})"),
            "MARK or 0xf0 | -j MARK --set-xmark 0xf0/0xf0");
  EXPECT_EQ(both(R"({"MARK": {"xor_mark": "0xf0"}})"),
            "MARK xor 0xf0 | -j MARK --set-xmark 0xf0/0x0");
  EXPECT_EQ(both(R"({"MARK": {"set_mark": 0}})"),
            "MARK and 0x0 | -j MARK --set-xmark 0x0/0xffffffff");
  EXPECT_EQ(both(R"({"MARK": {"set_xmark": "0/0"}})"),
            "MARK and 0xffffffff | -j MARK --set-xmark 0x0/0x0");
}

TEST(MarkTarget, AllowedEverywhere) {
  auto target = build(R"({"MARK": {"set_mark": 1}})");
  EXPECT_EQ(target->allowed_hooks(), kEveryHook);
  for (TableId table : kAllTables) {
    EXPECT_EQ(build_error(R"({"MARK": {"set_mark": 1}})", table), "built");
  }
}

TEST(MarkTarget, Errors) {
  const std::string operations = R"("set_mark", "set_xmark", "and_mark", "or_mark" or "xor_mark")";
  EXPECT_EQ(build_error(R"("MARK")"), ": MARK needs one of " + operations);
  EXPECT_EQ(build_error(R"({"MARK": {}})"), ": MARK needs one of " + operations);
  EXPECT_EQ(build_error(R"({"MARK": {"set_mark": 1, "or_mark": 2}})"),
            ": MARK takes at most one of " + operations);
  EXPECT_EQ(build_error(R"({"MARK": "0x1"})"),
            ": expected an object with set_mark, set_xmark, and_mark, or_mark, xor_mark, got "
            "\"0x1\"");
  EXPECT_EQ(
      build_error(R"({"MARK": {"set": 1}})"),
      R"(/set: unknown key "set"; expected set_mark, set_xmark, and_mark, or_mark, xor_mark)");
  EXPECT_EQ(build_error(R"({"MARK": {"set_mark": "0x1/0x1/0x1"}})"),
            R"(/set_mark: expected a mark "value" or "value/mask" of 32 bits, got "0x1/0x1/0x1")");
  EXPECT_EQ(build_error(R"({"MARK": {"set_xmark": "mark"}})"),
            R"(/set_xmark: expected a mark "value" or "value/mask" of 32 bits, got "mark")");
  EXPECT_EQ(
      build_error(R"({"MARK": {"and_mark": "0xf0/0xff"}})"),
      R"(/and_mark: expected a 32-bit value such as "0xff", without a mask, got "0xf0/0xff")");
  EXPECT_EQ(build_error(R"({"MARK": {"or_mark": 4294967296}})"),
            R"(/or_mark: expected a 32-bit value such as "0xff", without a mask, got 4294967296)");
}

}  // namespace
}  // namespace verdictd
