// Notices soon after the kernel's tables may have changed, so that the daemon
// checks its steering (Steering::repair, an iptables-save per table) only
// then, not all the time.
//
// nft: nf_tables announces every committed change to the NFNLGRP_NFTABLES
// netlink group; the watch wakes at once. Legacy iptables announces nothing:
// every `period` the watch reads the raw and mangle tables' entries as
// iptables-save does (getsockopt IPT_SO_GET_INFO and IPT_SO_GET_ENTRIES, and
// the IPv6 ones) and compares a hash of them, counters left out, with the
// last one — microseconds for tables of a few kilobytes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "kernel/steering.hpp"
#include "kernel/wakeup.hpp"

struct mnl_socket;

namespace verdictd {

class SteeringWatch {
 public:
  // Throws std::system_error when its sockets cannot be opened.
  SteeringWatch(SteeringBackend backend, std::chrono::milliseconds period);
  ~SteeringWatch();
  SteeringWatch(const SteeringWatch&) = delete;
  SteeringWatch& operator=(const SteeringWatch&) = delete;
  SteeringWatch(SteeringWatch&&) = delete;
  SteeringWatch& operator=(SteeringWatch&&) = delete;

  // Blocks until the tables may have changed since the last call returned
  // (or since construction): the families whose tables may have; or until
  // stop(): 0.
  FamilyMask wait_for_change();
  // The next wait_for_change() returns true after one period (a check that
  // failed is tried again).
  void again() { again_ = true; }
  // From another thread: wait_for_change() returns false, now and from then on.
  void stop();

  // The legacy tables' hash, per family.
  [[nodiscard]] std::array<std::uint64_t, kFamilyCount> legacy_fingerprints() const;

 private:
  SteeringBackend backend_;
  std::chrono::milliseconds period_;
  Wakeup wakeup_;
  std::atomic<bool> stopping_{false};
  mnl_socket* events_ = nullptr;  // nft
  std::array<int, kFamilyCount> raw_{-1,
                                     -1};  // legacy: the sockets getsockopt reads tables through
  std::array<std::uint64_t, kFamilyCount> last_{};
  bool again_ = false;
};

}  // namespace verdictd
