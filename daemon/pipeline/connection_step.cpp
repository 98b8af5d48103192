#include "pipeline/connection_step.hpp"

#include "conntrack/icmp_tracking.hpp"
#include "conntrack/tracking_points.hpp"
#include "nat/nat_context.hpp"
#include "nat/nat_translation.hpp"
#include "pipeline/unknown_binding.hpp"

namespace verdictd {

namespace {

bool is_icmp_error(const PacketView& packet) {
  const bool icmp =
      packet.protocol == (packet.family == Family::kIPv4 ? ipproto::kIcmp : ipproto::kIcmpv6);
  return icmp && packet.has_icmp && icmp_is_error(packet.family, packet.icmp_type);
}

}  // namespace

ConnectionStep::ConnectionStep(FlowTable& flows, Tracker& tracker, PacketConntrack& ct, Hook hook,
                               bool track, std::uint8_t bindable, const QueuedFacts& queued,
                               std::vector<std::uint8_t>& rewritten)
    : flows_(&flows),
      tracker_(&tracker),
      ct_(&ct),
      arrives_tracked_(verdictd::arrives_tracked(hook, queued.in_ifindex)),
      track_(track),
      bindable_(bindable),
      queued_(queued),
      rewritten_(&rewritten) {}

void ConnectionStep::track(const PacketView& packet, EvalState& state) {
  if (track_) {
    tracker_->track(packet, *ct_);
  } else {
    tracker_->recall(packet, *ct_);
  }
  // The nat chains see a connection's first packet for each manipulation;
  // ICMP errors are translated with the connection they are about instead.
  // A connection adopted from the kernel meets them with its next packet
  // (unknown_binding.hpp).
  const std::uint8_t manip = nat_manip_of(state.hook);
  const bool adopted = ct_->state == CtState::kEstablished &&
                       ct_->direction == Direction::kOriginal &&
                       (ct_->flow.nat_unknown & manip) != 0;
  const bool first = ct_->state == CtState::kNew || adopted ||
                     (ct_->state == CtState::kRelated && !is_icmp_error(packet));
  state.first_packet_of_connection = first && ct_->has_flow && (ct_->flow.nat_done & manip) == 0;
}

const PacketView& ConnectionStep::translate(const PacketView& packet, EvalState& state) {
  if (!ct_->has_flow) return packet;
  const std::uint8_t manip = nat_manip_of(state.hook);
  if (state.first_packet_of_connection && (ct_->flow.nat_done & manip) == 0) {
    // No rule bound it: a null binding, so that its later packets skip the chains.
    ct_->flow.nat_done |= manip;
    flows_->note_null_binding(ct_->flow.original, manip, ct_->now);
  }
  if (needs_unknown_binding(ct_->flow, ct_->direction, state.hook, bindable_)) {
    if (state.nat != nullptr) state.nat->note_unbound_drop();
    failed_ = true;
    return packet;
  }
  const auto translation = nat_translation(state.hook, ct_->flow, ct_->direction);
  if (!translation) return packet;
  // A packet copied cut short cannot be handed back whole.
  if (queued_.cut_short) {
    failed_ = true;
    return packet;
  }
  rewritten_->assign(packet.bytes.begin(), packet.bytes.end());
  const bool done =
      is_icmp_error(packet)
          ? apply_manip_to_icmp_error(*rewritten_, translation->outer, translation->inner)
          : apply_manip(*rewritten_, translation->outer, queued_.checksum_not_ready);
  if (!done) {
    failed_ = true;
    return packet;
  }
  view_ = PacketView::parse(*rewritten_);
  return view_;
}

}  // namespace verdictd
