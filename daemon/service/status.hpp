// The text of `verdictctl status` and of the sd_notify STATUS= lines.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "conntrack/flow_table.hpp"
#include "kernel/mirror.hpp"
#include "kernel/queue_worker.hpp"
#include "kernel/steering.hpp"
#include "nat/nat_binder.hpp"
#include "service/journal_logger.hpp"
#include "service/ruleset_holder.hpp"

namespace verdictd {

struct QueueReport {
  std::uint16_t number = 0;
  Hook hook = Hook::kInput;
  QueueStats stats;
  bool stalled = false;
};

// What is in force after the configured ruleset could not be loaded at
// start, until a reload succeeds (README, "Never open by accident").
enum class Fallback : std::uint8_t {
  kNone,      // the configured ruleset loaded
  kLastGood,  // the last ruleset that loaded, kept by last_good.hpp
  kClosed,    // no ruleset at all: the closed hooks drop every packet
  kOpen,      // no ruleset at all, fail-open: nothing is steered
};

struct FallbackReport {
  Fallback kind = Fallback::kNone;
  std::string error;      // why the configured ruleset did not load (FILE:LINE:COL: ...)
  std::string saved;      // kLastGood: when the copy loaded
  std::string last_good;  // kClosed, kOpen: why no last-good ruleset could be used
  HookMask closed_hooks = 0;
};

struct StatusReport {
  std::string ruleset;  // the file the ruleset in force came from
  FallbackReport fallback;
  std::size_t rules = 0;
  ReloadOutcome last_reload;
  SteeringBackend steering = SteeringBackend::kLegacy;
  bool fail_open = false;
  FamilyHooks steered_hooks;
  std::uint64_t steering_repairs = 0;  // changed behind verdictd's back, and restored
  std::string outage;                  // the stalled queue, "" while healthy
  std::vector<QueueReport> queues;
  FlowTableStats flows;
  MirrorStats mirror;
  NatBinder::Stats nat;
  std::size_t stored_bindings = 0;    // in the binding store now
  std::size_t restored_bindings = 0;  // given back to the kernel's connections at start
  LoggerStats log;                    // the LOG target's lines
};

// Several lines: ruleset, last reload, steering, health, then a table of the
// queues ("queue  hook  packets  accepted  dropped  enobufs  state").
std::string status_text(const StatusReport& report);

// "running, 5 queues, ruleset /etc/verdictd/ruleset.json (12 rules), steering INPUT";
// without a usable ruleset it starts with "LAST-GOOD", "CLOSED" or "OPEN".
std::string running_line(const StatusReport& report);
// The first line of the status: "ruleset: /etc/verdictd/ruleset.json (12 rules)",
// or "ruleset: LAST-GOOD from TIME ... (ERROR)", "ruleset: CLOSED ...", "ruleset: NONE ...".
std::string ruleset_line(const StatusReport& report);

// "PREROUTING INPUT", or "none".
std::string hooks_text(HookMask hooks);
// The same for both families, or "ipv4 INPUT, ipv6 none" when they differ.
std::string hooks_text(const FamilyHooks& hooks);

}  // namespace verdictd
