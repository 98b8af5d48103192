// -m time: windows across midnight with and without --contiguous, the day
// lists, the date range, the kernel's timezone as a fixed offset across a
// DST change (the TZ database through the C library shows the wall clock
// moving while the kernel's offset does not), and the text iptables 1.8.9
// prints.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "match/time_window.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

// UTC seconds (timegm), with their weekdays.
constexpr std::int64_t kMonday2330 = 1772494200;    // 2026-03-02 23:30:00, Monday
constexpr std::int64_t kTuesday0030 = 1772497800;   // 2026-03-03 00:30:00, Tuesday
constexpr std::int64_t kMonday0030 = 1772411400;    // 2026-03-02 00:30:00, Monday
constexpr std::int64_t kSaturday31st = 1769860800;  // 2026-01-31 12:00:00, Saturday
constexpr std::int64_t kSummer0730 = 1782891000;    // 2026-07-01 07:30:00 UTC
constexpr std::int64_t kWinter0730 = 1768462200;    // 2026-01-15 07:30:00 UTC
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kHalfHour = 1800;

TimeWindow across_midnight(bool contiguous = false) {
  return {.daytime_start = 23 * 3600, .daytime_stop = 3600, .contiguous = contiguous};
}

TEST(TimeWindow, AWindowWhoseStopIsBeforeItsStartSpansMidnight) {
  const TimeWindow window = across_midnight();
  EXPECT_TRUE(in_time_window(window, kMonday2330, 0));
  EXPECT_TRUE(in_time_window(window, kTuesday0030, 0));
  EXPECT_TRUE(in_time_window(window, kMonday2330 - kHalfHour, 0));       // 23:00:00, included
  EXPECT_FALSE(in_time_window(window, kMonday2330 - kHalfHour - 1, 0));  // 22:59:59
  EXPECT_TRUE(in_time_window(window, kTuesday0030 + kHalfHour, 0));      // 01:00:00, included
  EXPECT_FALSE(in_time_window(window, kTuesday0030 + kHalfHour + 1, 0));
  EXPECT_FALSE(in_time_window(window, kSaturday31st, 0));
  // start == stop: the "outside" test can never hold; every second matches.
  const TimeWindow point{.daytime_start = 3600, .daytime_stop = 3600};
  EXPECT_TRUE(in_time_window(point, kSaturday31st, 0));
  // An ordinary window.
  const TimeWindow morning{.daytime_start = 8 * 3600, .daytime_stop = 12 * 3600};
  EXPECT_TRUE(in_time_window(morning, kSaturday31st, 0));  // 12:00:00, included
  EXPECT_FALSE(in_time_window(morning, kSaturday31st + 1, 0));
}

TEST(TimeWindow, ContiguousCountsAfterMidnightAsTheDayBefore) {
  TimeWindow monday = across_midnight();
  monday.weekdays = 1U << 1;
  EXPECT_TRUE(in_time_window(monday, kMonday2330, 0));
  EXPECT_FALSE(in_time_window(monday, kTuesday0030, 0));  // Tuesday's own
  EXPECT_TRUE(in_time_window(monday, kMonday0030, 0));
  monday.contiguous = true;
  EXPECT_TRUE(in_time_window(monday, kMonday2330, 0));
  EXPECT_TRUE(in_time_window(monday, kTuesday0030, 0));  // Monday night's
  EXPECT_FALSE(in_time_window(monday, kMonday0030, 0));  // Sunday night's
  // The day of the month moves back too: Feb 1st 00:30 belongs to Jan 31st.
  TimeWindow last_day = across_midnight(true);
  last_day.monthdays = 1U << 31;
  EXPECT_TRUE(in_time_window(last_day, kSaturday31st + 12 * kHour + kHalfHour, 0));
  last_day.contiguous = false;
  EXPECT_FALSE(in_time_window(last_day, kSaturday31st + 12 * kHour + kHalfHour, 0));
}

TEST(TimeWindow, DaysAndDates) {
  EXPECT_TRUE(in_time_window({.weekdays = 1U << 6}, kSaturday31st, 0));
  EXPECT_FALSE(
      in_time_window({.weekdays = TimeWindow::kAllWeekdays & ~(1U << 6)}, kSaturday31st, 0));
  EXPECT_TRUE(in_time_window({.monthdays = 1U << 31}, kSaturday31st, 0));
  EXPECT_FALSE(in_time_window({.monthdays = 1U << 30}, kSaturday31st, 0));
  const auto at = static_cast<std::uint32_t>(kSaturday31st);
  EXPECT_TRUE(in_time_window({.date_start = at, .date_stop = at}, kSaturday31st, 0));
  EXPECT_FALSE(in_time_window({.date_start = at + 1}, kSaturday31st, 0));
  EXPECT_FALSE(in_time_window({.date_stop = at - 1}, kSaturday31st, 0));
}

// The kernel's timezone is a number of minutes west of UTC, set once: the
// kernel shifts by it whatever the date, where the wall clock follows DST.
TEST(TimeWindow, KernelTimezoneIsAFixedOffsetAcrossDst) {
  const char* saved_tz = std::getenv("TZ");
  const std::string previous = saved_tz != nullptr ? saved_tz : "";
  ::setenv("TZ", "Europe/Berlin", 1);
  ::tzset();
  std::tm winter{};
  std::tm summer{};
  const std::time_t winter_at = kWinter0730;
  const std::time_t summer_at = kSummer0730;
  ::localtime_r(&winter_at, &winter);
  ::localtime_r(&summer_at, &summer);
  if (saved_tz != nullptr) {
    ::setenv("TZ", previous.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
  ASSERT_EQ(winter.tm_gmtoff, kHour);      // CET
  ASSERT_EQ(summer.tm_gmtoff, 2 * kHour);  // CEST: 09:30 on the wall clock
  // Set at boot in winter (systemd's clock_set_timezone): 60 minutes east.
  const int minutes_west = static_cast<int>(-winter.tm_gmtoff / 60);
  const TimeWindow eight_to_nine{
      .daytime_start = 8 * 3600, .daytime_stop = 9 * 3600, .kernel_tz = true};
  EXPECT_TRUE(in_time_window(eight_to_nine, kWinter0730, minutes_west));  // 08:30 CET
  // In summer the kernel still adds one hour: 08:30, though the wall says 09:30.
  EXPECT_TRUE(in_time_window(eight_to_nine, kSummer0730, minutes_west));
  // Without --kerneltz, UTC: 07:30.
  TimeWindow utc = eight_to_nine;
  utc.kernel_tz = false;
  EXPECT_FALSE(in_time_window(utc, kSummer0730, minutes_west));
  // The date range is compared after the shift.
  const TimeWindow until{.date_stop = static_cast<std::uint32_t>(kWinter0730), .kernel_tz = true};
  EXPECT_FALSE(in_time_window(until, kWinter0730, minutes_west));
  EXPECT_TRUE(in_time_window(until, kWinter0730, 0));
}

std::unique_ptr<Match> time_match(const std::string& options) {
  const Json parsed = Json::parse(options);
  return build(options, parsed.begin().key());
}

TEST(TimeMatch, MatchesNowWhenTheWindowIsTheWholeDay) {
  const auto always = time_match(R"({"daytime": {"start": "00:00", "stop": "23:59:59"}})");
  const auto never = time_match(R"({"datestop": "1970-01-02"})");
  const std::vector<std::uint8_t> bytes(20, 0);
  EvalState state;
  EXPECT_TRUE(always->matches(PacketView::parse(bytes), state));
  EXPECT_FALSE(never->matches(PacketView::parse(bytes), state));
}

// As iptables-legacy 1.8.9 lists and saves the same rules.
TEST(TimeMatch, ListAndSaveTextAsIptables) {
  const auto night = time_match(
      R"({"daytime": {"start": "23:00", "stop": "01:00:05", "contiguous": true}, "kerneltz": true})");
  EXPECT_EQ(listed(*night), "TIME from 23:00:00 to 01:00:05 contiguous");
  EXPECT_EQ(saved(*night),
            " -m time --timestart 23:00:00 --timestop 01:00:05 --datestop 2038-01-19T03:14:07 "
            "--kerneltz --contiguous");
  const auto days = time_match(R"({"weekdays": ["Mon", "Tue", "Sun"], "monthdays": "1,31,15"})");
  EXPECT_EQ(listed(*days), "TIME on Mon,Tue,Sun on 1st,15th,31st UTC");
  EXPECT_EQ(saved(*days),
            " -m time --monthdays 1,15,31 --weekdays Mon,Tue,Sun --datestop 2038-01-19T03:14:07");
  const auto negated = time_match(
      R"({"!weekdays": "Mon", "!monthdays": "2", "datestart": "2020-01-02T03:04:05", "datestop": "2030-01-01", "utc": true})");
  EXPECT_EQ(listed(*negated),
            "TIME on Tue,Wed,Thu,Fri,Sat,Sun on 1st,3rd,4th,5th,6th,7th,8th,9th,10th,11st,12nd,"
            "13rd,14th,15th,16th,17th,18th,19th,20th,21st,22nd,23rd,24th,25th,26th,27th,28th,29th,"
            "30th,31st starting from 2020-01-02 03:04:05 until date 2030-01-01 00:00:00 UTC");
  EXPECT_EQ(saved(*negated),
            " -m time --monthdays 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,"
            "26,27,28,29,30,31 --weekdays Tue,Wed,Thu,Fri,Sat,Sun --datestart 2020-01-02T03:04:05 "
            "--datestop 2030-01-01T00:00:00");
  const auto morning = time_match(R"({"daytime": {"start": "09:00"}})");
  EXPECT_EQ(listed(*morning), "TIME from 09:00:00 to 23:59:59 UTC");
  EXPECT_EQ(saved(*morning),
            " -m time --timestart 09:00:00 --timestop 23:59:59 --datestop 2038-01-19T03:14:07");
}

TEST(TimeMatch, ErrorsOfTheOptions) {
  EXPECT_NE(build_error(R"({"daytime": {"start": "01:00", "stop": "02:00", "contiguous": true}})",
                        "daytime"),
            "built");
  EXPECT_NE(build_error(R"({"daytime": {"contiguous": true}})", "daytime"), "built");
  EXPECT_EQ(build_error(R"({"daytime": {"start": "01:00", "stop": "01:00", "contiguous": true}})",
                        "daytime"),
            "built");
  EXPECT_NE(build_error(R"({"daytime": {"start": "24:00"}})", "daytime"), "built");
  EXPECT_NE(build_error(R"({"daytime": {"start": "12"}})", "daytime"), "built");
  EXPECT_NE(build_error(R"({"daytime": {"stop": "12:60"}})", "daytime"), "built");
  EXPECT_NE(build_error(R"({"datestart": "1969-12-31"})", "datestart"), "built");
  EXPECT_NE(build_error(R"({"datestart": "2020-13"})", "datestart"), "built");
  EXPECT_NE(build_error(R"({"kerneltz": true, "utc": true})", "kerneltz"), "built");
  EXPECT_NE(build_error(R"({"weekdays": "Monday"})", "weekdays"), "built");
  EXPECT_EQ(build_error(R"({"datestart": "2020-01-02T03:04"})", "datestart"), "built");
}

}  // namespace
}  // namespace verdictd
