// -m time (xt_time): the time of day, weekdays, days of the month and a date
// range the packet's arrival must fall in, in UTC or, with --kerneltz, in the
// kernel's timezone: the fixed offset of sys_tz (set at boot, e.g. by
// systemd, and read back here with gettimeofday), which follows no DST rule.
// verdictd does as the kernel does, so a local-time window shifts by an hour
// when DST begins or ends until the kernel's timezone is set again.
#include <sys/time.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/time_window.hpp"

namespace verdictd {

namespace {

// Reads "N" up to `max`, then expects one of `ends` ("" for the end).
bool read_part(std::string_view& text, unsigned max, unsigned& value, std::string_view ends) {
  const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || stop == text.data() || value > max) return false;
  text.remove_prefix(static_cast<std::size_t>(stop - text.data()));
  if (text.empty()) return true;
  if (ends.find(text.front()) == std::string_view::npos) return false;
  text.remove_prefix(1);
  return !text.empty();
}

std::string two_digits(unsigned v) {
  std::array<char, 4> text{};
  std::snprintf(text.data(), text.size(), "%02u", v % 100);
  return text.data();
}

std::string clock_text(std::uint32_t seconds) {
  return two_digits(seconds / 3600) + ":" + two_digits(seconds / 60 % 60) + ":" +
         two_digits(seconds % 60);
}

// "2038-01-19" + separator + "03:14:07", in UTC (time_print_date).
std::string date_text(std::uint32_t seconds, char separator) {
  const std::chrono::sys_seconds at{std::chrono::seconds{seconds}};
  const auto day = std::chrono::floor<std::chrono::days>(at);
  const std::chrono::year_month_day date{day};
  return std::to_string(static_cast<int>(date.year())) + "-" +
         two_digits(static_cast<unsigned>(date.month())) + "-" +
         two_digits(static_cast<unsigned>(date.day())) + separator +
         clock_text(static_cast<std::uint32_t>((at - day).count()));
}

// hh:mm[:ss], 00:00:00 to 23:59:59 (time_parse_minutes).
class DaytimeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "time of day"; }
  [[nodiscard]] std::string syntax() const override { return R"("hh:mm" or "hh:mm:ss")"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    std::string_view text = expect_string(v, syntax());
    unsigned hour = 0;
    unsigned minute = 0;
    unsigned second = 0;
    if (!read_part(text, 23, hour, ":") || text.empty() || !read_part(text, 59, minute, ":") ||
        (!text.empty() && !read_part(text, 59, second, "")) || !text.empty()) {
      throw_expected(syntax() + " between 00:00 and 23:59:59", v);
    }
    return std::uint64_t{hour * 3600U + minute * 60U + second};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return clock_text(static_cast<std::uint32_t>(std::get<std::uint64_t>(v)));
  }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"pattern", "^[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?$"}};
  }
  [[nodiscard]] Json example() const override { return "08:30"; }
};

// YYYY[-MM[-DD[Thh[:mm[:ss]]]]] in UTC, 1970 to 2038 (time_parse_date).
class DateType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "date"; }
  [[nodiscard]] std::string syntax() const override { return R"("YYYY[-MM[-DD[Thh[:mm[:ss]]]]]")"; }
  [[nodiscard]] Value parse(const Json& v) const override {
    std::string_view text = expect_string(v, syntax());
    unsigned year = 0;
    unsigned month = 1;
    unsigned day = 1;
    unsigned hour = 0;
    unsigned minute = 0;
    unsigned second = 0;
    const bool read = read_part(text, 2038, year, "-") && year >= 1970 &&
                      (text.empty() || (read_part(text, 12, month, "-") && month >= 1)) &&
                      (text.empty() || (read_part(text, 31, day, "T") && day >= 1)) &&
                      (text.empty() || read_part(text, 23, hour, ":")) &&
                      (text.empty() || read_part(text, 59, minute, ":")) &&
                      (text.empty() || read_part(text, 59, second, "")) && text.empty();
    if (!read) throw_expected(syntax() + ", 1970 to 2038", v);
    // mktime in UTC: a day past the month's end rolls over, as there.
    const auto days = std::chrono::sys_days{std::chrono::year{static_cast<int>(year)} /
                                            std::chrono::month{month} / 1} +
                      std::chrono::days{day - 1};
    const auto seconds = days.time_since_epoch() + std::chrono::hours{hour} +
                         std::chrono::minutes{minute} + std::chrono::seconds{second};
    return static_cast<std::uint64_t>(std::chrono::seconds{seconds}.count());
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return date_text(static_cast<std::uint32_t>(std::get<std::uint64_t>(v)), 'T');
  }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"type", "string"},
        {"pattern",
         "^[0-9]{4}(-[0-9]{1,2}(-[0-9]{1,2}(T[0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2})?)?)?)?)?$"}};
  }
  [[nodiscard]] Json example() const override { return "2030-01-01T00:00:00"; }
};

const DaytimeType kDaytime;
const DateType kDate;

const std::array<NamedBit, 7> kWeekdayNames = {{{"Mon", 1U << 1},
                                                {"Tue", 1U << 2},
                                                {"Wed", 1U << 3},
                                                {"Thu", 1U << 4},
                                                {"Fri", 1U << 5},
                                                {"Sat", 1U << 6},
                                                {"Sun", 1U << 7}}};
const NamesType kWeekdays("weekdays", kWeekdayNames);

constexpr std::array<NamedBit, 31> month_day_names() {
  constexpr std::array<std::string_view, 31> kNumbers = {
      "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10", "11",
      "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22",
      "23", "24", "25", "26", "27", "28", "29", "30", "31"};
  std::array<NamedBit, 31> names{};
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = {kNumbers[i], 1U << (i + 1)};
  return names;
}
const std::array<NamedBit, 31> kMonthdayNames = month_day_names();
const NamesType kMonthdays("days of the month", kMonthdayNames);

// "1st,2nd,3rd,4th,...,11st,12nd": time_print_monthdays' suffixes, by the last digit.
std::string ordinal_days(std::uint32_t mask) {
  std::string text;
  for (unsigned day = 1; day <= 31; ++day) {
    if ((mask & (1U << day)) == 0) continue;
    static constexpr std::array<std::string_view, 10> kSuffixes = {"th", "st", "nd", "rd", "th",
                                                                   "th", "th", "th", "th", "th"};
    text += (text.empty() ? "" : ",") + std::to_string(day) + std::string(kSuffixes[day % 10]);
  }
  return text;
}

class TimeMatch final : public Match {
 public:
  explicit TimeMatch(TimeWindow window) : window_(window) {}

  bool matches(const PacketView& /*packet*/, EvalState& /*state*/) const override {
    timeval now{};
    struct timezone zone {};
    ::gettimeofday(&now, &zone);  // the vDSO: the real time and the kernel's sys_tz
    return in_time_window(window_, now.tv_sec, zone.tz_minuteswest);
  }

  // "TIME from 23:00:00 to 01:00:05 on Mon,Tue on 1st,15th starting from
  // 2020-01-02 03:04:05 until date 2030-01-01 00:00:00 UTC contiguous" (time_print).
  void list(ListRow& row) const override {
    std::string text = "TIME";
    if (has_daytime()) {
      text +=
          " from " + clock_text(window_.daytime_start) + " to " + clock_text(window_.daytime_stop);
    }
    if (window_.weekdays != TimeWindow::kAllWeekdays) {
      text += " on " + kWeekdays.text(window_.weekdays);
    }
    if (window_.monthdays != TimeWindow::kAllMonthdays) {
      text += " on " + ordinal_days(window_.monthdays);
    }
    if (window_.date_start != 0) text += " starting from " + date_text(window_.date_start, ' ');
    if (window_.date_stop != TimeWindow::kNoDateStop) {
      text += " until date " + date_text(window_.date_stop, ' ');
    }
    if (!window_.kernel_tz) text += " UTC";
    if (window_.contiguous) text += " contiguous";
    row.add_extra(text);
  }

  // time_save: the day lists as the kernel holds them (a negated list saved
  // as its complement), and --datestop always.
  void save(SaveLine& line) const override {
    std::string text = " -m time";
    if (has_daytime()) {
      text += " --timestart " + clock_text(window_.daytime_start) + " --timestop " +
              clock_text(window_.daytime_stop);
    }
    if (window_.monthdays != TimeWindow::kAllMonthdays) {
      text += " --monthdays " + kMonthdays.text(window_.monthdays);
    }
    if (window_.weekdays != TimeWindow::kAllWeekdays) {
      text += " --weekdays " + kWeekdays.text(window_.weekdays);
    }
    if (window_.date_start != 0) text += " --datestart " + date_text(window_.date_start, 'T');
    text += " --datestop " + date_text(window_.date_stop, 'T');
    if (window_.kernel_tz) text += " --kerneltz";
    if (window_.contiguous) text += " --contiguous";
    line.matches += text;
  }

 private:
  [[nodiscard]] bool has_daytime() const {
    return window_.daytime_start != 0 || window_.daytime_stop != TimeWindow::kLastDaytime;
  }

  TimeWindow window_;
};

std::uint32_t day_bits(const OptionValues& options, std::string_view key, std::uint32_t all) {
  const OptionValue* given = options.find(key);
  if (given == nullptr) return all;
  const std::uint32_t bits = std::get<ValueMask>(given->value).value;
  return given->negated ? bits ^ all : bits;
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  TimeWindow window;
  const OptionValues daytime = options.has("daytime") ? options.members("daytime") : OptionValues();
  window.daytime_start = static_cast<std::uint32_t>(daytime.get_or<std::uint64_t>("start", 0));
  window.daytime_stop =
      static_cast<std::uint32_t>(daytime.get_or<std::uint64_t>("stop", TimeWindow::kLastDaytime));
  window.weekdays = day_bits(options, "weekdays", TimeWindow::kAllWeekdays);
  window.monthdays = day_bits(options, "monthdays", TimeWindow::kAllMonthdays);
  window.date_start = static_cast<std::uint32_t>(options.get_or<std::uint64_t>("datestart", 0));
  window.date_stop = static_cast<std::uint32_t>(
      options.get_or<std::uint64_t>("datestop", TimeWindow::kNoDateStop));
  window.kernel_tz = options.has("kerneltz");
  window.contiguous = daytime.has("contiguous");
  if (window.contiguous && window.daytime_start < window.daytime_stop) {
    throw FieldError(R"("contiguous" only makes sense when "stop" is before "start")",
                     "/contiguous");
  }
  return std::make_unique<TimeMatch>(window);
}

const std::array<OptionSpec, 3> kDaytimeMembers = {
    {{.key = "start",
      .flag = "--timestart",
      .type = &kDaytime,
      .doc = "the time of day the window opens (default 00:00:00)"},
     {.key = "stop",
      .flag = "--timestop",
      .type = &kDaytime,
      .doc = "the time of day it closes, included (default 23:59:59); before start: the window "
             "spans midnight"},
     {.key = "contiguous",
      .flag = "--contiguous",
      .type = &value_types::flag(),
      .doc = "a window spanning midnight belongs to the day it began: weekdays and monthdays "
             "are those of its start (only when stop is before start)"}}};

const std::array<OptionSpec, 7> kOptions = {
    {{.key = "daytime",
      .members = kDaytimeMembers,
      .doc = "the time of day: {\"start\": \"hh:mm[:ss]\", \"stop\": \"hh:mm[:ss]\", "
             "\"contiguous\": true}",
      .example = R"({"start": "23:00", "stop": "01:00", "contiguous": true})"},
     {.key = "weekdays",
      .flag = "--weekdays",
      .type = &kWeekdays,
      .negatable = true,
      .doc = "the days of the week: Mon, Tue, Wed, Thu, Fri, Sat, Sun"},
     {.key = "monthdays",
      .flag = "--monthdays",
      .type = &kMonthdays,
      .negatable = true,
      .doc = "the days of the month, \"1\" to \"31\" (\"1,15\")"},
     {.key = "datestart",
      .flag = "--datestart",
      .type = &kDate,
      .doc = "from this date and time on (ISO 8601, UTC)"},
     {.key = "datestop",
      .flag = "--datestop",
      .type = &kDate,
      .doc = "until this date and time (ISO 8601, UTC; default 2038-01-19T03:14:07)"},
     {.key = "kerneltz",
      .flag = "--kerneltz",
      .aliases = "--localtz",
      .type = &value_types::flag(),
      .doc = "in the kernel's timezone (a fixed offset, set at boot; no DST) rather than UTC"},
     {.key = "utc", .flag = "--utc", .type = &value_types::flag(), .doc = "in UTC (the default)"}}};

const std::array<Constraint, 1> kConstraints = {
    {{.kind = Constraint::Kind::kAtMostOne, .keys = "kerneltz utc"}}};

const MatchRegistrar kRegistrar({.name = "time",
                                 .summary = "the time of arrival: time of day, weekdays, days of "
                                            "the month, dates",
                                 .options = kOptions,
                                 .constraints = kConstraints,
                                 .build = build});

}  // namespace

}  // namespace verdictd
