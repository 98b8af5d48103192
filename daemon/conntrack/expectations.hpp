// Connections a kernel helper expects (the FTP helper's data connection),
// mirrored from ctnetlink's expectation events. A new connection matching one
// is RELATED, and its flow gets the EXPECTED status.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "conntrack/flow.hpp"

namespace verdictd {

struct Expectation {
  std::uint32_t kernel_id = 0;
  Tuple tuple;   // the expected connection's original tuple ...
  Tuple mask;    // ... compared under this mask (zero bits: any value)
  Tuple master;  // the original tuple of the connection that expects it
  ConntrackTime expires{};
  HelperName helper{};  // the helper that expects it (CTA_EXPECT_HELP_NAME)
};

class Expectations {
 public:
  // How long an expectation the kernel removed before it expired may still
  // be taken. The kernel removes one when the expected connection's first
  // packet passes its conntrack (nf_ct_find_expectation), which is before
  // a later hook queues that packet to verdictd: the event can come first.
  static constexpr std::chrono::seconds kTakenByKernelGrace{1};

  void add(const Expectation& expectation);
  // The kernel removed it (an event): taken by the connection it expected,
  // or dropped with its master. Until it would have expired, and within
  // kTakenByKernelGrace, a connection may still take it.
  void remove(std::uint32_t kernel_id, ConntrackTime now);
  void clear();
  // The expectation `tuple` matches, removed as the kernel removes it when
  // the expected connection arrives: a live one, else one the kernel has
  // just removed.
  std::optional<Expectation> take(const Tuple& tuple, ConntrackTime now);
  [[nodiscard]] std::size_t size() const;

 private:
  struct Removed {
    Expectation expectation;
    ConntrackTime until;
  };
  // Lock order: daemon/LOCKING.md.
  mutable std::mutex mutex_;
  std::vector<Expectation> expectations_;  // few: one per helper command in flight
  std::vector<Removed> removed_by_kernel_;
};

}  // namespace verdictd
