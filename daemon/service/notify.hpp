// systemd's notification protocol (sd_notify); every call is a no-op when
// NOTIFY_SOCKET is not set.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace verdictd::notify {

void ready(const std::string& status);
// Starts a reload; ready() ends it.
void reloading();
void status(const std::string& text);
void watchdog();
void stopping();
// How often systemd expects WATCHDOG=1, when it asks for it at all.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace verdictd::notify
