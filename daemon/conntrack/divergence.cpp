#include "conntrack/divergence.hpp"

#include "conntrack/flow_listing.hpp"

namespace verdictd {

namespace {

bool agrees(const Flow& ours, const KernelView& kernel) {
  const bool state_agrees =
      kernel.tcp_state == TcpState::kNone || kernel.tcp_state == ours.tcp_state;
  return state_agrees && (ours.status & kComparedStatus) == kernel.status;
}

// "SYN_SENT (no SEEN_REPLY, ASSURED)"; without the state for other protocols.
std::string view_text(bool tcp, TcpState state, std::uint32_t status) {
  const auto bit = [status](std::uint32_t mask, const char* name) {
    return std::string((status & mask) != 0 ? "" : "no ") + name;
  };
  const std::string bits = "(" + bit(ctstatus::kSeenReply, "SEEN_REPLY") + ", " +
                           bit(ctstatus::kAssured, "ASSURED") + ")";
  return tcp ? std::string(tcp_state_name(state)) + " " + bits : bits;
}

}  // namespace

bool note_kernel_view(Flow& ours, const Flow& kernel, ConntrackTime now) {
  KernelView& view = ours.kernel_view;
  if (kernel.tcp_state != TcpState::kNone) view.tcp_state = kernel.tcp_state;
  view.status = kernel.status & kComparedStatus;
  if (view.counted) return false;
  if (agrees(ours, view)) {
    view.deadline.reset();
    return false;
  }
  if (view.deadline) return false;  // the grace runs from the first disagreement
  view.deadline = now + kDivergenceGrace;
  return true;
}

void end_divergence_caught_up(Flow& ours) {
  KernelView& view = ours.kernel_view;
  if (view.deadline && agrees(ours, view)) view.deadline.reset();
}

Divergence check_divergence(Flow& flow, ConntrackTime now) {
  KernelView& view = flow.kernel_view;
  if (!view.deadline) return Divergence::kNone;
  if (*view.deadline > now) return Divergence::kInGrace;
  view.deadline.reset();
  view.counted = true;
  return Divergence::kLasting;
}

std::string divergence_text(const Flow& flow) {
  const bool tcp = flow.original.protocol == ipproto::kTcp;
  return conntrack_protocol_name(flow.original.protocol) + " " + tuple_text(flow.original) +
         ": verdictd " + view_text(tcp, flow.tcp_state, flow.status) + ", kernel " +
         view_text(tcp, flow.kernel_view.tcp_state, flow.kernel_view.status);
}

}  // namespace verdictd
