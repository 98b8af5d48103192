// Hostile and huge ruleset input: absurd nesting, long lines of chains,
// numbers out of range and files past the size limit are refused with their
// location, or loaded, in time linear in their size. Nothing recurses on the
// depth of the input, so nothing overflows the stack.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include "loader_errors.hpp"
#include "ruleset/loader.hpp"
#include "text/json_position.hpp"

namespace verdictd {
namespace {

using test::load_error;

constexpr std::size_t kDeep = 100'000;  // far more levels than a thread's stack has room to recurse
const std::string kTooDeep = "expected at most 256 levels of nested arrays and objects";

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// `count` user chains c0, c1, ... one a line, INPUT jumping to c0 and each to
// the next; the last one jumps to `last_jump` if given.
std::string chains_in_a_line(std::size_t count, const std::string& last_jump) {
  std::string text = R"({"tables": {"filter": {"INPUT": {"rules": [{"jump": "c0"}]})";
  for (std::size_t c = 0; c < count; ++c) {
    const std::string next = c + 1 < count ? "c" + std::to_string(c + 1) : last_jump;
    text += ",\n\"c" + std::to_string(c) + R"(": {"rules": [)" +
            (next.empty() ? "" : R"({"jump": ")" + next + "\"}") + "]}";
  }
  return text + "}}}";
}

TEST(LoaderLimits, DeepNestingIsRefusedWhereItGoesTooDeep) {
  EXPECT_EQ(load_error(nested_arrays(kDeep)), "r.json:1:257: " + kTooDeep);
  // Six levels are open where the comment starts: its 251st array is the 257th level.
  const std::string comment = R"({"comment": )";
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [)"
                       "\n" +
                       comment + nested_arrays(kDeep) + "}]}}}}"),
            "r.json:2:" + std::to_string(comment.size() + 251) + ": " + kTooDeep);
}

TEST(LoaderLimits, NestingUpToTheLimitIsParsed) {
  // The ruleset's own comment takes any value: 255 levels in it, 256 in all.
  const std::string comment = R"({"comment": )";
  EXPECT_EQ(load_error(comment + nested_arrays(255) + R"(, "tables": {}})"), "loaded");
  EXPECT_EQ(load_error(comment + nested_arrays(256) + R"(, "tables": {}})"),
            "r.json:1:" + std::to_string(comment.size() + 256) + ": " + kTooDeep);
}

TEST(LoaderLimits, DuplicateKeyScanTakesAnyDepth) {
  // The scan stands on its own: it needs no bound on the depth.
  EXPECT_FALSE(find_duplicate_key(nested_arrays(kDeep)));
  const auto duplicate =
      find_duplicate_key(std::string(kDeep, '[') + R"({"a": 1, "a": 2})" + std::string(kDeep, ']'));
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->offset, kDeep + 9);
  std::string pointer;
  for (std::size_t i = 0; i < kDeep; ++i) pointer += "/0";
  EXPECT_EQ(duplicate->pointer, pointer + "/a");
}

TEST(LoaderLimits, DuplicateKeysCompareAsTheParserDecodesThem) {
  EXPECT_EQ(load_error(R"({"tables": {}, "\u0074ables": {}})"),
            "r.json:1:16: /tables: duplicate key; each key may appear once in an object");
  const std::string first = R"({"tables": {}, "\ud83d\ude00": 1, )";
  EXPECT_EQ(load_error(first + "\"\U0001F600\": 2}"),
            "r.json:1:" + std::to_string(first.size() + 1) +
                ": /\U0001F600: duplicate key; each key may appear once in an object");
}

TEST(LoaderLimits, NumberOutOfRangeIsLocated) {
  EXPECT_EQ(
      load_error(R"({"tables": {"filter": {"INPUT": {"rules": [{"match": {"mark": 1e999}}]}}}})"),
      "r.json:1:63: expected a number within the range of a double, got 1e999");
}

TEST(LoaderLimits, LongLineOfChainsLoadsInLinearTime) {
  constexpr std::size_t kChains = 100'000;
  const std::string text = chains_in_a_line(kChains, "");
  const auto started = std::chrono::steady_clock::now();
  const auto ruleset = load_ruleset_text(text, "r.json");
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  std::cout << kChains << " chains jumping in a line loaded in " << took.count() << " s\n";
  const Table& filter = ruleset->table(TableId::kFilter);
  ASSERT_EQ(filter.chains.size(), 3 + kChains);  // INPUT FORWARD OUTPUT c0 ...
  EXPECT_EQ(filter.chains.back().name, "c99999");
  EXPECT_EQ(filter.chains.back().reached_from, hook_bit(Hook::kInput));
  // About a second; quadratic in chains, it took 8.7 s for 20k.
  EXPECT_LT(took.count(), 30.0);
}

TEST(LoaderLimits, LoopThroughALongLineIsNamedByItsEnds) {
  EXPECT_EQ(load_error(chains_in_a_line(50'000, "c0")),
            "r.json:50001:31: /tables/filter/c49999/rules/0/jump: this makes a loop: INPUT -> c0 "
            "-> c1 -> c2 -> c3 -> (49991 more) -> c49995 -> c49996 -> c49997 -> c49998 -> "
            "c49999 -> c0");
}

TEST(LoaderLimits, HooksReachChainsWrittenBeforeTheirCallers) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {
      "c": {"rules": [{"match": {"in_interface": "eth0"}}]},
      "b": {"rules": [{"jump": "c"}]},
      "a": {"rules": [{"jump": "c"}]},
      "INPUT": {"rules": [{"jump": "a"}]},
      "OUTPUT": {"rules": [{"jump": "b"}]}}}})"),
            "r.json:2:50: /tables/filter/c/rules/0/match/in_interface: in_interface cannot be "
            "used in OUTPUT (chain \"c\" is reached from OUTPUT in table filter)");
}

std::string load_file_error(const std::string& path, std::size_t max_bytes) {
  try {
    load_ruleset_file(path, max_bytes);
  } catch (const RulesetError& e) {
    return e.what();
  }
  return "loaded";
}

const std::string kRaise =
    "; raise it with \"ruleset_max_bytes\" in verdictd.json or --ruleset-max-bytes";

TEST(LoaderLimits, FileLargerThanTheLimitIsRefused) {
  const std::string path = testing::TempDir() + "loader_limits_test.json";
  std::ofstream(path) << R"({"tables": {}})" << std::string(100, ' ');  // 114 bytes
  EXPECT_EQ(load_file_error(path, 114), "loaded");
  EXPECT_EQ(load_file_error(path, 113),
            path + ": the file is 114 bytes, more than the limit of 113 bytes" + kRaise);
  std::remove(path.c_str());
}

TEST(LoaderLimits, MissingFileIsNamedWithoutAPosition) {
  const std::string path = testing::TempDir() + "loader_limits_test_missing.json";
  EXPECT_EQ(load_file_error(path, 1 << 20), path + ": cannot open: No such file or directory");
}

TEST(LoaderLimits, EndlessInputIsReadUpToTheLimit) {
  EXPECT_EQ(load_file_error("/dev/zero", 1 << 20),
            "/dev/zero: the file has more than the limit of 1048576 bytes" + kRaise);
}

}  // namespace
}  // namespace verdictd
