// What a queue worker does with each packet: parse it, fill in the hook,
// interfaces and mark, run the hook's tables against one ruleset snapshot.
#pragma once

#include "queue/link_cache.hpp"
#include "queue/queue_worker.hpp"
#include "service/ruleset_holder.hpp"

namespace verdictd {

PacketDecision decide(const RulesetHolder& rulesets, const LinkCache& links, Hook hook,
                      const QueuedPacket& packet);

}  // namespace verdictd
