// An eventfd that a thread blocked in poll() watches beside its socket, so
// that another thread can end the wait at once (to stop it, or to hand it
// work) rather than the sleeper waking on a timeout to look.
#pragma once

namespace verdictd {

class Wakeup {
 public:
  Wakeup();  // throws std::system_error
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  Wakeup(Wakeup&&) = delete;
  Wakeup& operator=(Wakeup&&) = delete;

  // Readable (POLLIN) from signal() until clear().
  [[nodiscard]] int fd() const { return fd_; }
  // Safe from any thread, also while another one polls fd().
  void signal() const;
  void clear() const;

 private:
  int fd_;
};

}  // namespace verdictd
