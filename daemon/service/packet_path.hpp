// What a queue worker does with each packet: parse it, name its interfaces,
// and run it through its hook's pipeline against one ruleset snapshot.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "conntrack/flow_table.hpp"
#include "conntrack/tracker.hpp"
#include "kernel/link_cache.hpp"
#include "kernel/mirror.hpp"
#include "kernel/queue_worker.hpp"
#include "kernel/reply_sender.hpp"
#include "nat/nat_context.hpp"
#include "packet/packet_type.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "service/drop_log.hpp"
#include "service/ruleset_holder.hpp"
#include "service/trace_hub.hpp"

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

// One per worker (the worker's PacketHandler: handler()): turns a queued
// packet into the pipeline's input (pipeline/hook_pipeline.hpp) and its
// outcome into a verdict. It keeps the snapshot it last took and takes a new
// one only after a reload, so packets do not all touch the shared reference
// count of the ruleset in force.
class PacketPath {
 public:
  // `replies` sends REJECT's answers; null: none is built. `log`: where LOG
  // rules write, null for nowhere. `traces`: who follows packets, `drops`:
  // where drops are recorded; null: nobody, nowhere. `routes`: the kernel's
  // routes for addrtype and rpfilter; null: none known.
  PacketPath(const RulesetHolder& rulesets, const LinkCache& links,
             const SubnetBroadcasts& broadcasts, Hook hook, ConntrackParts conntrack,
             const ReplySender* replies = nullptr, LogSink* log = nullptr,
             TraceHub* traces = nullptr, DropLog* drops = nullptr,
             const RouteLookup* routes = nullptr)
      : rulesets_(&rulesets),
        links_(&links),
        broadcasts_(&broadcasts),
        hook_(hook),
        tracking_{.flows = conntrack.flows, .tracker = conntrack.tracker, .nat = conntrack.nat},
        mirror_(conntrack.mirror),
        untracked_mark_(conntrack.untracked_mark),
        steered_hooks_(conntrack.steered_hooks),
        replies_(replies),
        log_(log),
        traces_(traces),
        drops_(drops),
        routes_(routes) {
    if (replies_ != nullptr) reply_.hop_limits = replies_->hop_limits();
  }

  PacketDecision operator()(const QueuedPacket& packet);
  // Where the packet is tracked (tracks_at), what its connection needs
  // settled first (Tracker::question), before the hook runs. Rules do not
  // count here: raw's NOTRACK may still exempt the packet, which then waited
  // for nothing.
  std::optional<ConnectionQuestion> question(const QueuedPacket& packet);

  // Both calls for a worker, on one shared path.
  static PacketHandler handler(const std::shared_ptr<PacketPath>& path);

 private:
  // Takes the ruleset in force when it changed since the last packet.
  void refresh();

  const RulesetHolder* rulesets_;
  const LinkCache* links_;
  const SubnetBroadcasts* broadcasts_;  // for pkttype
  Hook hook_;
  ConnectionTracking tracking_;
  ConntrackMirror* mirror_;
  std::uint32_t untracked_mark_;
  const std::atomic<FamilyHooks>* steered_hooks_;
  std::shared_ptr<const RulesetInForce> in_force_;
  const Ruleset* ruleset_ = nullptr;  // in_force_'s
  std::uint64_t generation_ = 0;      // of in_force_; the holder's start at 1
  PipelineRules rules_;
  std::vector<std::uint8_t> rewritten_;  // the translated packet handed back (NAT)
  const ReplySender* replies_;
  RejectReply reply_;  // a REJECT's answer to the packet being decided
  LogSink* log_;
  TraceHub* traces_;
  DropLog* drops_;
  const RouteLookup* routes_;  // for addrtype and rpfilter
  PacketTrace trace_;          // of the packet being decided, when someone follows packets
};

}  // namespace verdictd
