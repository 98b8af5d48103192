// The last-good ruleset's envelope and atomic file, the closed_hooks setting,
// and the status line that says a fallback is in force.
#include "service/last_good.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ruleset/loader.hpp"
#include "service/config.hpp"
#include "service/log.hpp"
#include "service/status.hpp"

namespace verdictd {
namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

class LastGoodFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("verdictd-last-good-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST(LastGoodEnvelope, KeepsTheBytesSourceAndTime) {
  const LastGoodCopy copy{.source = "/etc/verdictd/ruleset.json",
                          .saved = "2026-12-05 14:10:00 UTC",
                          .text = "{\n  \"tables\": {} }\n\t\"é\" \\ \x01"};
  const LastGoodCopy back = parse_last_good_envelope(last_good_envelope(copy));
  EXPECT_EQ(back.source, copy.source);
  EXPECT_EQ(back.saved, copy.saved);
  EXPECT_EQ(back.text, copy.text);
}

TEST(LastGoodEnvelope, RefusesWhatItDidNotWrite) {
  EXPECT_THROW(parse_last_good_envelope("{\"tables\": {}}"), std::runtime_error);
  EXPECT_THROW(parse_last_good_envelope("{\"verdictd_last_good\": 1, \"source\": \"x\"}"),
               std::runtime_error);
  EXPECT_THROW(parse_last_good_envelope("not json"), std::runtime_error);
  EXPECT_THROW(parse_last_good_envelope(""), std::runtime_error);
}

TEST(LastGoodEnvelope, ErrorsOfTheCopyPointAtTheOriginalsLines) {
  // A copy the loader of a later version refuses still says where, in the
  // original's lines and columns.
  const std::string text = "{\"tables\": {\"filter\": {\"INPUT\": {\n  \"policy\": \"MAYBE\"}}}}";
  const LastGoodCopy copy{.source = "/etc/verdictd/ruleset.json", .saved = "t", .text = text};
  const LastGoodCopy back = parse_last_good_envelope(last_good_envelope(copy));
  try {
    load_ruleset_text(back.text, last_good_name("/var/lib/verdictd/last-good.json", back));
    FAIL() << "loaded";
  } catch (const RulesetError& e) {
    EXPECT_EQ(e.file, "/var/lib/verdictd/last-good.json (copy of /etc/verdictd/ruleset.json)");
    EXPECT_EQ(e.line, 2);
    EXPECT_EQ(e.column, 13);
  }
}

TEST(LastGoodTime, IsUtc) {
  EXPECT_EQ(utc_time_text(std::chrono::system_clock::time_point(std::chrono::seconds(1796220600))),
            "2026-12-02 14:10:00 UTC");
}

TEST_F(LastGoodFile, WritesAtomicallyCreatingTheDirectory) {
  const std::string path = (dir_ / "state" / "last-good.json").string();
  write_file_atomically(path, "first");
  EXPECT_EQ(read_all(path), "first");
  write_file_atomically(path, "second, longer");
  EXPECT_EQ(read_all(path), "second, longer");
  // Nothing is left beside it, and only root can read the directory.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ / "state"),
                          std::filesystem::directory_iterator()),
            1);
  EXPECT_EQ(std::filesystem::status(dir_ / "state").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
}

TEST_F(LastGoodFile, ReadsWhatWasKept) {
  const std::string path = (dir_ / "last-good.json").string();
  EXPECT_FALSE(read_last_good(path).has_value());
  write_file_atomically(path, last_good_envelope({.source = "a.json", .saved = "t", .text = "{}"}));
  const auto copy = read_last_good(path);
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->text, "{}");
  write_file_atomically(path, "{\"tables\": {}}");
  EXPECT_THROW(read_last_good(path), std::runtime_error);
}

TEST_F(LastGoodFile, FailsLoudlyWhereItCannotWrite) {
  std::filesystem::create_directories(dir_);
  const std::string path = (dir_ / "last-good.json").string();
  std::filesystem::create_directory(path);  // a directory where the file should go
  EXPECT_THROW(write_file_atomically(path, "x"), std::system_error);
}

TEST(ClosedHooksSetting, ReadFromTheSettingsFile) {
  const Config packaged =
      resolve_config(VERDICTD_SOURCE_DIR "/packaging/verdictd.json", true, ConfigFlags{});
  EXPECT_EQ(packaged.closed_hooks, kEveryHook);
  EXPECT_EQ(packaged.last_good, "/var/lib/verdictd/last-good.json");
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("verdictd-settings-" + std::to_string(getpid()));
  std::ofstream(path) << "{\"closed_hooks\": [\"INPUT\",\n \"INPUTS\"]}";
  try {
    resolve_config(path.string(), true, ConfigFlags{});
    FAIL() << "accepted";
  } catch (const RulesetError& e) {
    EXPECT_EQ(std::string(e.what()),
              path.string() +
                  ":2:2: /closed_hooks/1: expected PREROUTING, INPUT, FORWARD, OUTPUT or "
                  "POSTROUTING, got \"INPUTS\"");
  }
  ConfigFlags flags;
  flags.closed_hooks = hook_bit(Hook::kForward);
  flags.last_good = "/tmp/x.json";
  const Config flagged = resolve_config(path.string() + ".none", false, flags);
  EXPECT_EQ(flagged.closed_hooks, hook_bit(Hook::kForward));
  EXPECT_EQ(flagged.last_good, "/tmp/x.json");
  std::filesystem::remove(path);
}

TEST(JournalPrefix, WhenStderrIsTheJournalStream) {
  // systemd names the stream it connected in JOURNAL_STREAM (DEVICE:INODE).
  // The answer is taken once per process, so this is the only test of it.
  struct stat status {};
  ASSERT_EQ(fstat(STDERR_FILENO, &status), 0);
  const std::string stream = std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino);
  setenv("JOURNAL_STREAM", stream.c_str(), 1);
  EXPECT_EQ(journal_prefix(3), "<3>");
  unsetenv("JOURNAL_STREAM");
}

TEST(ClosedHooksSetting, NamesHooks) {
  EXPECT_EQ(hooks_from_list("INPUT,FORWARD"), hook_bit(Hook::kInput) | hook_bit(Hook::kForward));
  EXPECT_EQ(hooks_from_list(""), HookMask{0});
  EXPECT_EQ(hooks_from_list("INPUT,BOGUS"), std::nullopt);
  EXPECT_EQ(Config{}.closed_hooks, kEveryHook);
}

TEST(FallbackStatus, SaysWhatIsInForceAndWhy) {
  StatusReport report;
  report.ruleset = "/etc/verdictd/ruleset.json";
  report.rules = 3;
  EXPECT_EQ(ruleset_line(report), "ruleset: /etc/verdictd/ruleset.json (3 rules)");
  report.ruleset = "/var/lib/verdictd/last-good.json (copy of /etc/verdictd/ruleset.json)";
  report.fallback = {.kind = Fallback::kLastGood,
                     .error = "/etc/verdictd/ruleset.json: cannot open: No such file or directory",
                     .saved = "2026-12-05 14:10:00 UTC",
                     .last_good = "",
                     .closed_hooks = 0};
  EXPECT_EQ(ruleset_line(report),
            "ruleset: LAST-GOOD from 2026-12-05 14:10:00 UTC, /var/lib/verdictd/last-good.json "
            "(copy of /etc/verdictd/ruleset.json) (3 rules) (/etc/verdictd/ruleset.json: cannot "
            "open: No such file or directory)");
  EXPECT_TRUE(status_text(report).starts_with(ruleset_line(report) + "\n"));
  EXPECT_NE(running_line(report).find("LAST-GOOD from 2026-12-05 14:10:00 UTC"), std::string::npos);
  report.fallback = {.kind = Fallback::kClosed,
                     .error = "r.json:1:1: expected valid JSON: x",
                     .saved = "",
                     .last_good = "no last-good ruleset in /var/lib/verdictd/last-good.json",
                     .closed_hooks = hook_bit(Hook::kInput) | hook_bit(Hook::kForward)};
  EXPECT_EQ(ruleset_line(report),
            "ruleset: CLOSED, no usable ruleset: hooks INPUT FORWARD drop every packet until a "
            "good ruleset is reloaded (r.json:1:1: expected valid JSON: x; no last-good ruleset "
            "in /var/lib/verdictd/last-good.json)");
  report.fallback.kind = Fallback::kOpen;
  EXPECT_TRUE(ruleset_line(report).starts_with("ruleset: NONE, fail-open: nothing is steered"));
}

}  // namespace
}  // namespace verdictd
