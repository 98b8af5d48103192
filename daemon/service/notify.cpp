#include "service/notify.hpp"

#include <systemd/sd-daemon.h>

#include <ctime>

#include "text/utf8_escape.hpp"

namespace verdictd::notify {

namespace {

void send(const std::string& text) { sd_notify(0, text.c_str()); }

std::uint64_t monotonic_microseconds() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000U +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000U;
}

// systemd ignores a STATUS= that is not UTF-8 ("not UTF-8 clean"), and a
// failed reload's error may quote any byte of the file.
std::string status_field(const std::string& text) { return "STATUS=" + escape_invalid_utf8(text); }

}  // namespace

void ready(const std::string& status_text) { send("READY=1\n" + status_field(status_text)); }

// systemd 253 and later want the time of the reload request with RELOADING=1.
void reloading() {
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_microseconds()));
}

void status(const std::string& text) { send(status_field(text)); }
void watchdog() { send("WATCHDOG=1"); }
void stopping() { send("STOPPING=1\nSTATUS=stopping"); }

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

}  // namespace verdictd::notify
