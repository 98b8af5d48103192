#include "match/time_window.hpp"

#include <chrono>

namespace verdictd {

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

}  // namespace

bool in_time_window(const TimeWindow& window, std::int64_t utc_seconds, int minutes_west) {
  std::int64_t stamp = utc_seconds;
  if (window.kernel_tz) stamp -= 60 * static_cast<std::int64_t>(minutes_west);
  if (stamp < window.date_start || stamp > window.date_stop) return false;

  const auto daytime = static_cast<std::uint32_t>(stamp % kSecondsPerDay);
  if (window.daytime_start < window.daytime_stop) {
    if (daytime < window.daytime_start || daytime > window.daytime_stop) return false;
  } else {
    if (daytime < window.daytime_start && daytime > window.daytime_stop) return false;
    // "Mon 23:00 to 01:00" with --contiguous: Tuesday 00:30 belongs to Monday.
    if (window.contiguous && daytime <= window.daytime_stop) stamp -= kSecondsPerDay;
  }

  const std::int64_t day = stamp / kSecondsPerDay;  // days since 1970-01-01
  // 1970-01-01 was a Thursday; Monday is 1 and Sunday 7 (localtime_2).
  const auto weekday = static_cast<unsigned>((4 + day - 1) % 7 + 1);
  if ((window.weekdays & (1U << weekday)) == 0) return false;
  if (window.monthdays != TimeWindow::kAllMonthdays) {
    const std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{day}}};
    if ((window.monthdays & (1U << static_cast<unsigned>(date.day()))) == 0) return false;
  }
  return true;
}

}  // namespace verdictd
