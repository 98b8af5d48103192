// Connections a kernel helper expects (the FTP helper's data connection),
// mirrored from ctnetlink's expectation events. A new connection matching one
// is RELATED, and its flow gets the EXPECTED status.
#pragma once

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
};

class Expectations {
 public:
  void add(const Expectation& expectation);
  void remove(std::uint32_t kernel_id);
  void clear();
  // The live expectation `tuple` matches, removed as the kernel removes it
  // when the expected connection arrives.
  std::optional<Expectation> take(const Tuple& tuple, ConntrackTime now);
  [[nodiscard]] std::size_t size() const;

 private:
  // Lock order: daemon/LOCKING.md.
  mutable std::mutex mutex_;
  std::vector<Expectation> expectations_;  // few: one per helper command in flight
};

}  // namespace verdictd
