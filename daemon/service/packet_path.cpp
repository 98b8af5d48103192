#include "service/packet_path.hpp"

#include "conntrack/tracking_points.hpp"
#include "pipeline/connection_step.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/unknown_binding.hpp"

namespace verdictd {

namespace {

bool is_raw_hook(Hook hook) { return hook == Hook::kPrerouting || hook == Hook::kOutput; }

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
  state.broadcasts = broadcasts_;
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
  const QueuedFacts facts{.in_ifindex = packet.in_ifindex,
                          .cut_short = packet.original_length != packet.payload.size(),
                          .checksum_not_ready = packet.checksum_not_ready};
  ConnectionStep step(*conntrack_.flows, *conntrack_.tracker, ct, hook_, track,
                      view.has_network ? bindable_[family_index(view.family)] : 0, facts,
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
