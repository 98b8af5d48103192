// The last packets dropped or rejected, each with what decided it, for
// `verdictctl drops`: a ring the workers write as they drop, read on request.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "extension/packet_trace.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

class DropLog {
 public:
  static constexpr std::size_t kCapacity = 1024;

  // A packet `outcome` dropped at its hook; `in` as the hook received it.
  void record(const HookPacket& in, const HookOutcome& outcome, const Ruleset& ruleset);

  // The last `count` drops (at most kCapacity), oldest first, as JSON:
  // [{"time", "hook", "in", "out", "packet": {...}, "by": {"kind", "table",
  // "chain", "rule", "comment", "location", "action"}}], and how many drops
  // were recorded since the start.
  [[nodiscard]] nlohmann::ordered_json last(std::size_t count) const;
  [[nodiscard]] std::uint64_t recorded() const;

 private:
  struct Entry {
    std::chrono::system_clock::time_point when;
    Hook hook = Hook::kInput;
    std::string in;
    std::string out;
    PacketFacts packet;
    DropCause cause;
    // Named when recorded: the ruleset may be replaced before it is read.
    std::string chain;
    std::string comment;
    std::string action;  // the rule's target, or the policy
    std::string location;
  };

  // Lock order: daemon/LOCKING.md.
  mutable std::mutex mutex_;
  std::vector<Entry> ring_ = std::vector<Entry>(kCapacity);
  std::uint64_t recorded_ = 0;  // the next entry goes to ring_[recorded_ % kCapacity]
};

}  // namespace verdictd
