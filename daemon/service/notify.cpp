#include "service/notify.hpp"

#include <systemd/sd-daemon.h>

namespace verdictd::notify {

namespace {
void send(const std::string& text) { sd_notify(0, text.c_str()); }
}  // namespace

void ready(const std::string& status_text) { send("READY=1\nSTATUS=" + status_text); }
void reloading() { send("RELOADING=1"); }
void status(const std::string& text) { send("STATUS=" + text); }
void watchdog() { send("WATCHDOG=1"); }
void stopping() { send("STOPPING=1"); }

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

}  // namespace verdictd::notify
