// When -m time matches (xt_time's time_mt), as a pure function of the
// clock, for the match and its tests.
#pragma once

#include <cstdint>

namespace verdictd {

struct TimeWindow {
  static constexpr std::uint32_t kAllWeekdays = 0xfe;         // bits 1 (Mon) to 7 (Sun)
  static constexpr std::uint32_t kAllMonthdays = 0xfffffffe;  // bits 1 to 31
  static constexpr std::uint32_t kLastDaytime = 86399;        // 23:59:59
  static constexpr std::uint32_t kNoDateStop = 0x7fffffff;    // INT_MAX, iptables' default

  std::uint32_t daytime_start = 0;  // seconds since midnight
  std::uint32_t daytime_stop = kLastDaytime;
  std::uint32_t weekdays = kAllWeekdays;
  std::uint32_t monthdays = kAllMonthdays;
  std::uint32_t date_start = 0;  // seconds since the epoch
  std::uint32_t date_stop = kNoDateStop;
  bool kernel_tz = false;   // --kerneltz: shift by the kernel's timezone
  bool contiguous = false;  // --contiguous
};

// `utc_seconds`: the real time; `minutes_west`: the kernel's timezone
// (sys_tz.tz_minuteswest, what gettimeofday reports), used only with
// kernel_tz. Like the kernel, the shift is fixed: it follows no DST rule.
// A window whose stop is not after its start spans midnight; with
// `contiguous`, its part after midnight counts as the day it began.
bool in_time_window(const TimeWindow& window, std::int64_t utc_seconds, int minutes_west);

}  // namespace verdictd
