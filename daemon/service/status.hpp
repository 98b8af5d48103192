// The text of `verdictctl status` and of the sd_notify STATUS= lines.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "conntrack/flow_table.hpp"
#include "conntrack/mirror.hpp"
#include "nat/nat_binder.hpp"
#include "queue/queue_worker.hpp"
#include "queue/steering.hpp"
#include "service/ruleset_holder.hpp"

namespace verdictd {

struct QueueReport {
  std::uint16_t number = 0;
  Hook hook = Hook::kInput;
  QueueStats stats;
  bool stalled = false;
};

struct StatusReport {
  std::string ruleset;  // the file the ruleset in force came from
  std::size_t rules = 0;
  ReloadOutcome last_reload;
  SteeringBackend steering = SteeringBackend::kLegacy;
  bool fail_open = false;
  FamilyHooks steered_hooks;
  std::string outage;  // the stalled queue, "" while healthy
  std::vector<QueueReport> queues;
  FlowTableStats flows;
  MirrorStats mirror;
  NatBinder::Stats nat;
  std::size_t stored_bindings = 0;    // in the binding store now
  std::size_t restored_bindings = 0;  // given back to the kernel's connections at start
};

// Several lines: ruleset, last reload, steering, health, then a table of the
// queues ("queue  hook  packets  accepted  dropped  enobufs  state").
std::string status_text(const StatusReport& report);

// "running, 5 queues, ruleset /etc/verdictd/ruleset.json (12 rules), steering INPUT"
std::string running_line(const StatusReport& report);

// "PREROUTING INPUT", or "none".
std::string hooks_text(HookMask hooks);
// The same for both families, or "ipv4 INPUT, ipv6 none" when they differ.
std::string hooks_text(const FamilyHooks& hooks);

}  // namespace verdictd
