// What a queue worker does with each packet: parse it, fill in the hook,
// interfaces and mark, and run the hook's tables against one ruleset snapshot.
#pragma once

#include <cstdint>
#include <memory>

#include "queue/link_cache.hpp"
#include "queue/queue_worker.hpp"
#include "service/ruleset_holder.hpp"

namespace verdictd {

// One per worker (it is the worker's PacketHandler). It keeps the snapshot it
// last took and takes a new one only after a reload, so packets do not all
// touch the shared reference count of the ruleset in force.
class PacketPath {
 public:
  PacketPath(const RulesetHolder& rulesets, const LinkCache& links, Hook hook)
      : rulesets_(&rulesets), links_(&links), hook_(hook) {}

  PacketDecision operator()(const QueuedPacket& packet);

 private:
  const RulesetHolder* rulesets_;
  const LinkCache* links_;
  Hook hook_;
  std::shared_ptr<const Ruleset> ruleset_;
  std::uint64_t generation_ = 0;  // of ruleset_; the holder's start at 1
};

}  // namespace verdictd
