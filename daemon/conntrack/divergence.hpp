// Divergences: the kernel's conntrack and the tracker disagreeing, for
// longer than a moment, about the TCP state or the SEEN_REPLY and ASSURED
// bits of a flow a queue observes. The mirror keeps the tables apart there
// (FlowTable::merge_kernel keeps our state), so a lasting disagreement means
// the tracker missed or misread packets the kernel saw: it is counted and
// logged, once per flow.
//
// Events and packets race: the kernel tracks at priority -200, our queues run
// before it (raw, at PREROUTING and OUTPUT) or after it (mangle, at INPUT,
// FORWARD and POSTROUTING), and the kernel announces a change only when the
// packet leaves its last hook. A disagreement therefore gets a grace: the
// tracker catching up with the kernel's view, or a later message of the
// kernel's agreeing with ours, ends it; one still there past its deadline is
// lasting.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "conntrack/flow.hpp"

namespace verdictd {

// What is compared besides the TCP state: the bits both trackers set on
// their own. Not CONFIRMED (ours is set a packet early), not EXPECTED (the
// kernel's helpers decide it), not the NAT bits (the kernel's entry has none
// for a connection verdictd translates).
inline constexpr std::uint32_t kComparedStatus = ctstatus::kSeenReply | ctstatus::kAssured;

// How long a disagreement may last: far longer than a packet's wait in a
// queue or an event's in the socket.
inline constexpr std::chrono::seconds kDivergenceGrace{1};

// Takes note of what a kernel message (event, dump, get) says about `ours`,
// after it was merged: a TCP state of kNone means the message did not carry
// one (an update for a status change only), and the last one reported
// stands. Starts the grace when the kernel disagrees and ends it when it
// agrees (as it always does with a flow that follows the kernel). True when a
// disagreement began (to be checked after the grace).
bool note_kernel_view(Flow& ours, const Flow& kernel, ConntrackTime now);

// After the tracker advanced `ours`: ends a disagreement it has caught up with.
void end_divergence_caught_up(Flow& ours);

enum class Divergence : std::uint8_t {
  kNone,     // agreeing (again), or counted already
  kInGrace,  // disagreeing, not for long yet
  kLasting,  // disagreeing past the deadline: counted now, and not watched any more
};
// What `flow`'s disagreement with the kernel is at `now`.
Divergence check_divergence(Flow& flow, ConntrackTime now);

// "tcp src=10.0.1.2 dst=10.0.1.1 sport=40000 dport=22: verdictd SYN_SENT
// (no SEEN_REPLY, no ASSURED), kernel ESTABLISHED (SEEN_REPLY, ASSURED)"
std::string divergence_text(const Flow& flow);

}  // namespace verdictd
