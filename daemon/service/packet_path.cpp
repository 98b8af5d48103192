#include "service/packet_path.hpp"

#include "conntrack/icmp_tracking.hpp"
#include "conntrack/tracking_points.hpp"
#include "engine/engine.hpp"
#include "nat/nat_translation.hpp"
#include "nat/unknown_binding.hpp"

namespace verdictd {

namespace {

bool is_raw_hook(Hook hook) { return hook == Hook::kPrerouting || hook == Hook::kOutput; }

bool is_icmp_error(const PacketView& packet) {
  const bool icmp =
      packet.protocol == (packet.family == Family::kIPv4 ? ipproto::kIcmp : ipproto::kIcmpv6);
  return icmp && packet.has_icmp && icmp_is_error(packet.family, packet.icmp_type);
}

// Tracking where the kernel's conntrack runs in the hook, and NAT where its
// nat hook function runs.
class ConnectionStep final : public ConnectionSteps {
 public:
  ConnectionStep(const ConntrackParts& parts, PacketConntrack& ct, Hook hook, bool track,
                 std::uint8_t bindable, const QueuedPacket& queued,
                 std::vector<std::uint8_t>& rewritten)
      : parts_(&parts),
        ct_(&ct),
        arrives_tracked_(verdictd::arrives_tracked(hook, queued.in_ifindex)),
        track_(track),
        bindable_(bindable),
        queued_(&queued),
        rewritten_(&rewritten) {}

  [[nodiscard]] bool arrives_tracked() const override { return arrives_tracked_; }

  void track(const PacketView& packet, EvalState& state) override {
    if (track_) {
      parts_->tracker->track(packet, *ct_);
    } else {
      parts_->tracker->recall(packet, *ct_);
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

  const PacketView& translate(const PacketView& packet, EvalState& state) override {
    if (!ct_->has_flow) return packet;
    const std::uint8_t manip = nat_manip_of(state.hook);
    if (state.first_packet_of_connection && (ct_->flow.nat_done & manip) == 0) {
      // No rule bound it: a null binding, so that its later packets skip the chains.
      ct_->flow.nat_done |= manip;
      parts_->flows->note_null_binding(ct_->flow.original, manip, ct_->now);
    }
    if (parts_->nat != nullptr &&
        needs_unknown_binding(ct_->flow, ct_->direction, state.hook, bindable_)) {
      parts_->nat->note_unbound_drop();
      failed_ = true;
      return packet;
    }
    const auto translation = nat_translation(state.hook, ct_->flow, ct_->direction);
    if (!translation) return packet;
    // A packet copied cut short cannot be handed back whole.
    if (queued_->original_length != queued_->payload.size()) {
      failed_ = true;
      return packet;
    }
    rewritten_->assign(packet.bytes.begin(), packet.bytes.end());
    const bool done =
        is_icmp_error(packet)
            ? apply_manip_to_icmp_error(*rewritten_, translation->outer, translation->inner)
            : apply_manip(*rewritten_, translation->outer, queued_->checksum_not_ready);
    if (!done) {
      failed_ = true;
      return packet;
    }
    view_ = PacketView::parse(*rewritten_);
    return view_;
  }

  // The packet had to be translated and could not be (the kernel drops it), or
  // its connection's binding is unknown.
  [[nodiscard]] bool failed() const { return failed_; }
  // The packet to hand back, when it was translated.
  [[nodiscard]] std::span<const std::uint8_t> translated() const {
    return view_.bytes.empty() ? std::span<const std::uint8_t>() : view_.bytes;
  }

 private:
  const ConntrackParts* parts_;
  PacketConntrack* ct_;
  bool arrives_tracked_;
  bool track_;
  std::uint8_t bindable_;  // bindable_manips of the ruleset, for the packet's family
  const QueuedPacket* queued_;
  std::vector<std::uint8_t>* rewritten_;
  PacketView view_;
  bool failed_ = false;
};

ChecksumInfo checksum_info(const QueuedPacket& packet) {
  if (packet.checksum_not_ready) return ChecksumInfo::kPartial;
  return packet.checksum_unverified ? ChecksumInfo::kUnverified : ChecksumInfo::kVerified;
}

// Accepts the packet, sending its mark back when the rules changed it.
PacketDecision accepted(std::uint32_t mark, std::uint32_t queued_mark) {
  PacketDecision decision;
  decision.mark = mark;
  decision.set_mark = mark != queued_mark;
  return decision;
}

}  // namespace

PacketDecision PacketPath::operator()(const QueuedPacket& packet) {
  if (const std::uint64_t current = rulesets_->generation(); current != generation_) {
    ruleset_ = rulesets_->snapshot();
    generation_ = current;
    bindable_ = bindable_manips(*ruleset_);
  }
  PacketView view = PacketView::parse(packet.payload, packet.original_length);
  view.checksum = checksum_info(packet);
  InterfaceName in{};
  InterfaceName out{};
  if (packet.in_ifindex != 0) links_->name_of(packet.in_ifindex, in);
  if (packet.out_ifindex != 0) links_->name_of(packet.out_ifindex, out);
  EvalState state;
  state.hook = hook_;
  state.in_interface = in.data();
  state.out_interface = out.data();
  state.in_ifindex = packet.in_ifindex;
  state.out_ifindex = packet.out_ifindex;
  // Rules never see the bit that marks an untracked packet; it stays on the packet.
  const std::uint32_t untracked_bit = packet.mark & conntrack_.untracked_mark;
  state.mark = packet.mark & ~untracked_bit;

  if (!ruleset_->tracks(view.family) || conntrack_.tracker == nullptr) {
    const Verdict verdict = evaluate_hook(*ruleset_, view, state);
    PacketDecision decision = accepted(state.mark | untracked_bit, packet.mark);
    decision.accept = verdict == Verdict::kAccept;
    return decision;
  }

  PacketConntrack ct;
  ct.now = ConntrackClock::now();
  ct.notrack = untracked_bit != 0;
  ct.crossed_prerouting = crossed_prerouting(hook_, packet.in_ifindex);
  state.conntrack = &ct;
  state.flows = conntrack_.flows;
  const bool track =
      tracks_at(hook_, conntrack_.steered_hooks->load(std::memory_order_relaxed)[view.family],
                packet.in_ifindex);
  ConnectionStep step(conntrack_, ct, hook_, track,
                      view.has_network ? bindable_[family_index(view.family)] : 0, packet,
                      rewritten_);
  if (ruleset_->uses_nat) state.nat = conntrack_.nat;
  const Verdict verdict = evaluate_hook(*ruleset_, view, state, &step);

  if (ct.connmark_changed && ct.has_flow) {
    conntrack_.flows->modify(ct.flow.original, ct.now, [&ct](Flow& flow, Direction /*dir*/) {
      flow.mark = ct.flow.mark;
      flow.mark_unsynced = true;
    });
    if (conntrack_.mirror != nullptr) conntrack_.mirror->sync_mark(ct.flow.original);
  }
  if (verdict == Verdict::kDrop || ct.table_full || step.failed()) {
    conntrack_.tracker->dropped(ct);
    PacketDecision decision;
    decision.accept = false;
    return decision;
  }
  // Untracked by raw just now: back through the hook, so the steering rules
  // exempt it from the kernel's conntrack too and later hooks see the bit.
  const bool untrack_in_kernel =
      ct.notrack && untracked_bit == 0 && conntrack_.untracked_mark != 0 && is_raw_hook(hook_);
  const std::uint32_t mark =
      state.mark | (untrack_in_kernel ? conntrack_.untracked_mark : untracked_bit);
  PacketDecision decision = accepted(mark, packet.mark);
  decision.repeat = untrack_in_kernel;
  decision.payload = step.translated();
  return decision;
}

}  // namespace verdictd
