// What a queue worker does with each packet: parse it, fill in the hook,
// interfaces, mark and connection, and run the hook's tables against one
// ruleset snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "conntrack/flow_table.hpp"
#include "conntrack/tracker.hpp"
#include "kernel/link_cache.hpp"
#include "kernel/mirror.hpp"
#include "kernel/queue_worker.hpp"
#include "nat/nat_context.hpp"
#include "packet/packet_type.hpp"
#include "service/ruleset_holder.hpp"

namespace verdictd {

// The daemon's connection tracking, shared by every worker.
struct ConntrackParts {
  FlowTable* flows = nullptr;
  Tracker* tracker = nullptr;
  ConntrackMirror* mirror = nullptr;  // null when ctnetlink is not used
  NatContext* nat = nullptr;          // binds connections for the NAT targets
  std::uint32_t untracked_mark = 0;   // see Config::untracked_mark
  // The hooks steered now: a packet is tracked at the first of them it crosses.
  const std::atomic<FamilyHooks>* steered_hooks = nullptr;
};

// One per worker (it is the worker's PacketHandler). It keeps the snapshot it
// last took and takes a new one only after a reload, so packets do not all
// touch the shared reference count of the ruleset in force.
class PacketPath {
 public:
  PacketPath(const RulesetHolder& rulesets, const LinkCache& links,
             const SubnetBroadcasts& broadcasts, Hook hook, ConntrackParts conntrack)
      : rulesets_(&rulesets),
        links_(&links),
        broadcasts_(&broadcasts),
        hook_(hook),
        conntrack_(conntrack) {}

  PacketDecision operator()(const QueuedPacket& packet);

 private:
  const RulesetHolder* rulesets_;
  const LinkCache* links_;
  const SubnetBroadcasts* broadcasts_;  // for pkttype
  Hook hook_;
  ConntrackParts conntrack_;
  std::shared_ptr<const Ruleset> ruleset_;
  std::uint64_t generation_ = 0;  // of ruleset_; the holder's start at 1
  // bindable_manips(*ruleset_): what an unknown binding may have translated.
  std::array<std::uint8_t, kFamilyCount> bindable_{};
  std::vector<std::uint8_t> rewritten_;  // the translated packet handed back (NAT)
};

}  // namespace verdictd
