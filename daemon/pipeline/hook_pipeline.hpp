// One packet through one hook: the hook's stages (hook_stages.hpp) in the
// kernel's priority order, as nf_hook_slow runs the functions registered at
// a hook; a drop at any stage ends the packet. Pure code over the flow table,
// so it runs the same in the daemon (service/packet_path.cpp), the tests and
// the fuzz target.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "conntrack/flow.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/tracker.hpp"
#include "extension/log_sink.hpp"
#include "extension/packet_trace.hpp"
#include "extension/working_packet.hpp"
#include "nat/nat_context.hpp"
#include "packet/packet.hpp"
#include "packet/packet_type.hpp"
#include "packet/reject_reply.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/trace_selector.hpp"
#include "ruleset/model.hpp"
#include "ruleset/rule_state.hpp"

namespace verdictd {

// A ruleset snapshot with what the pipeline derives from it once, not per packet.
struct PipelineRules {
  PipelineRules() = default;
  PipelineRules(const Ruleset& rules, RulesetState& rules_state);

  const Ruleset* ruleset = nullptr;
  RulesetState* state = nullptr;  // where its rules count and keep their state
  // bindable_manips(*ruleset): what an unknown binding may have translated.
  std::array<std::uint8_t, kFamilyCount> bindable{};
};

// The connection tracking the connection stages work on, shared by every hook.
struct ConnectionTracking {
  FlowTable* flows = nullptr;
  Tracker* tracker = nullptr;
  NatContext* nat = nullptr;  // binds connections for the NAT targets
};

// A packet as a hook receives it.
struct HookPacket {
  Hook hook = Hook::kInput;
  PacketView packet;
  std::string_view in_interface;   // empty when the hook has none
  std::string_view out_interface;  // empty when the hook has none
  std::uint32_t in_ifindex = 0;    // 0 when the hook has none
  std::uint32_t out_ifindex = 0;   // 0 when the hook has none
  std::uint32_t mark = 0;
  // The subnet broadcasts of the interfaces, for pkttype; null: only
  // 255.255.255.255 is an IPv4 broadcast.
  const SubnetBroadcasts* broadcasts = nullptr;
  // Interface MTUs, for TCPMSS --clamp-mss-to-pmtu; null when unknown.
  const InterfaceMtus* mtus = nullptr;
  bool untracked = false;  // made UNTRACKED by the raw table at an earlier hook
  bool cut_short = false;  // the queue copied less than the whole packet
  // The hooks steered for the packet's family: a packet is tracked at the
  // first of them it crosses (tracks_at).
  HookMask steered = kEveryHook;
  ConntrackTime now{};
  // Where a REJECT's answer goes (EvalState::reply); null: none is built.
  RejectReply* reply = nullptr;
  LogSink* log_sink = nullptr;  // where LOG writes; null: nowhere
  std::optional<SocketOwner> socket_owner;
  // Where the hook records the packet's trace, its `readers` set by the
  // caller when the packet is followed from an earlier hook; the selections
  // add theirs, and a TRACE rule its own. Null: the packet cannot be traced.
  PacketTrace* trace = nullptr;
  std::span<const TraceSelection> trace_selections;
  ReceivedLink link;  // the link-layer header it came with, for LOG
  // The kernel's routes, for addrtype and rpfilter; null: no route is known.
  const RouteLookup* routes = nullptr;
};

// What the hook made of the packet.
struct HookOutcome {
  Verdict verdict = Verdict::kAccept;
  std::uint32_t mark = 0;
  // The packet's connection as it leaves the hook (state INVALID and no flow
  // when it was not tracked); `connection.notrack`: it is UNTRACKED.
  PacketConntrack connection;
  // The packet as NAT or a mangle target rewrote it, to hand back; empty
  // when unchanged.
  std::span<const std::uint8_t> translated;
  DropCause dropped_by;  // what dropped it, when the verdict is kDrop
};

// Runs `packet` through the stages of its hook against `rules`. `tracking`
// null, or a family the ruleset does not track: no connection stages, and
// the conntrack matches see INVALID. `rewritten` holds the rewritten packet
// that the outcome's `translated` points into.
HookOutcome run_hook(const PipelineRules& rules, const HookPacket& packet,
                     const ConnectionTracking* tracking, std::vector<std::uint8_t>& rewritten);

}  // namespace verdictd
