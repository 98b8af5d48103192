#include "service/packet_path.hpp"

#include "engine/engine.hpp"

namespace verdictd {

namespace {

bool is_raw_hook(Hook hook) { return hook == Hook::kPrerouting || hook == Hook::kOutput; }

// The kernel tracks a packet once, at PREROUTING or OUTPUT. We track it at the
// first steered hook it crosses, which decides the same state from the same
// packets and spares a queue trip per packet when only later hooks have rules;
// the hooks after it recall that state.
bool tracks_here(Hook hook, HookMask steered, bool forwarded) {
  const auto steered_at = [steered](Hook h) { return (steered & hook_bit(h)) != 0; };
  switch (hook) {
    case Hook::kPrerouting:
    case Hook::kOutput:
      return true;
    case Hook::kInput:
    case Hook::kForward:
      return !steered_at(Hook::kPrerouting);
    case Hook::kPostrouting:
      return forwarded ? !steered_at(Hook::kPrerouting) && !steered_at(Hook::kForward)
                       : !steered_at(Hook::kOutput);
  }
  return true;
}

// Runs where the kernel's conntrack runs in the hook (after raw).
class ConnectionStep final : public TrackingStep {
 public:
  ConnectionStep(Tracker& tracker, PacketConntrack& ct, bool track)
      : tracker_(&tracker), ct_(&ct), track_(track) {}

  void run(const PacketView& packet, EvalState& state) override {
    if (track_) {
      tracker_->track(packet, *ct_);
    } else {
      tracker_->recall(packet, *ct_);
    }
    // The nat chains see a connection's first packet only.
    state.first_packet_of_connection =
        ct_->state == CtState::kNew || ct_->state == CtState::kRelated;
  }

 private:
  Tracker* tracker_;
  PacketConntrack* ct_;
  bool track_;
};

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
  }
  const PacketView view = PacketView::parse(packet.payload);
  InterfaceName in{};
  InterfaceName out{};
  if (packet.in_ifindex != 0) links_->name_of(packet.in_ifindex, in);
  if (packet.out_ifindex != 0) links_->name_of(packet.out_ifindex, out);
  EvalState state;
  state.hook = hook_;
  state.in_interface = in.data();
  state.out_interface = out.data();
  // Rules never see the bit that marks an untracked packet; it stays on the packet.
  const std::uint32_t untracked_bit = packet.mark & conntrack_.untracked_mark;
  state.mark = packet.mark & ~untracked_bit;

  if (!ruleset_->needs_conntrack || conntrack_.tracker == nullptr) {
    const Verdict verdict = evaluate_hook(*ruleset_, view, state);
    PacketDecision decision = accepted(state.mark | untracked_bit, packet.mark);
    decision.accept = verdict == Verdict::kAccept;
    return decision;
  }

  PacketConntrack ct;
  ct.now = ConntrackClock::now();
  ct.notrack = untracked_bit != 0;
  state.conntrack = &ct;
  state.flows = conntrack_.flows;
  // A packet at POSTROUTING that came in on an interface is being forwarded.
  const bool track = tracks_here(hook_, conntrack_.steered_hooks->load(std::memory_order_relaxed),
                                 packet.in_ifindex != 0);
  ConnectionStep step(*conntrack_.tracker, ct, track);
  const Verdict verdict = evaluate_hook(*ruleset_, view, state, &step);

  if (ct.connmark_changed && ct.has_flow) {
    conntrack_.flows->modify(ct.flow.original, ct.now, [&ct](Flow& flow, Direction /*dir*/) {
      flow.mark = ct.flow.mark;
      flow.mark_unsynced = true;
    });
    if (conntrack_.mirror != nullptr) conntrack_.mirror->sync_mark(ct.flow.original);
  }
  if (verdict == Verdict::kDrop || ct.table_full) {
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
  return decision;
}

}  // namespace verdictd
