// systemd's notification protocol; every call is a no-op outside systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace verdictd::notify {

void ready(const std::string& status);
void reloading();
void status(const std::string& text);
void watchdog();
void stopping();
// The interval at which WATCHDOG=1 is expected, when systemd asks for it.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace verdictd::notify
