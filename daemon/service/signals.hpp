// SIGHUP, SIGTERM and SIGINT, read from a signalfd by the main loop; SIGPIPE
// ignored.
#pragma once

#include <chrono>

namespace verdictd {

class SignalReader {
 public:
  // Blocks the three signals and opens the signalfd. Create it before any
  // thread starts: threads inherit the blocked mask, so only the signalfd
  // sees the signals. Throws std::runtime_error.
  SignalReader();
  ~SignalReader();
  SignalReader(const SignalReader&) = delete;
  SignalReader& operator=(const SignalReader&) = delete;
  SignalReader(SignalReader&&) = delete;
  SignalReader& operator=(SignalReader&&) = delete;

  // Waits up to `timeout` for one of the signals; its number, or 0.
  int wait(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace verdictd
