// One queue worker's questions to the kernel's conntrack table
// (KernelLookup): ctnetlink gets sent on a socket of the worker's own without
// waiting, their answers read when the worker's poll says they came. No lock
// is held across the kernel's round trip, and no other queue waits for it.
// The mirror decides which misses are asked (miss_policy.hpp), counts them
// and merges the answers.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_set>
#include <vector>

#include "conntrack/kernel_lookup.hpp"
#include "kernel/mirror.hpp"

struct mnl_socket;

namespace verdictd {

class ConntrackQuestions final : public KernelLookup {
 public:
  // Throws std::system_error when the socket cannot be opened.
  explicit ConntrackQuestions(ConntrackMirror& mirror);
  ~ConntrackQuestions() override;
  ConntrackQuestions(const ConntrackQuestions&) = delete;
  ConntrackQuestions& operator=(const ConntrackQuestions&) = delete;
  ConntrackQuestions(ConntrackQuestions&&) = delete;
  ConntrackQuestions& operator=(ConntrackQuestions&&) = delete;

  std::optional<Ticket> ask(const Tuple& tuple) override;
  void collect(std::vector<Ticket>& answered) override;
  void abandon(Ticket ticket) override;
  [[nodiscard]] int fd() const override { return fd_; }

 private:
  ConntrackMirror* mirror_;
  mnl_socket* socket_;
  int fd_;
  Ticket last_sequence_ = 0;
  std::unordered_set<Ticket> awaited_;  // asked, neither answered nor abandoned
  std::vector<std::uint8_t> buffer_;
};

}  // namespace verdictd
