#include "service/packet_path.hpp"

#include "conntrack/tracking_points.hpp"

namespace verdictd {

namespace {

ChecksumInfo checksum_info(const QueuedPacket& packet) {
  if (packet.checksum_not_ready) return ChecksumInfo::kPartial;
  return packet.checksum_unverified ? ChecksumInfo::kUnverified : ChecksumInfo::kVerified;
}

}  // namespace

PacketHandler PacketPath::handler(const std::shared_ptr<PacketPath>& path) {
  return {.question = [path](const QueuedPacket& packet) { return path->question(packet); },
          .decide = [path](const QueuedPacket& packet) { return (*path)(packet); }};
}

void PacketPath::refresh() {
  if (const std::uint64_t current = rulesets_->generation(); current != generation_) {
    in_force_ = rulesets_->in_force();
    ruleset_ = in_force_->ruleset.get();
    rules_ = PipelineRules(*ruleset_, *in_force_->state);
    generation_ = current;
  }
}

std::optional<ConnectionQuestion> PacketPath::question(const QueuedPacket& packet) {
  refresh();
  if (tracking_.tracker == nullptr) return std::nullopt;
  const PacketView view = PacketView::parse(packet.payload, packet.original_length);
  if (!ruleset_->tracks(view.family) ||
      !tracks_at(hook_, steered_hooks_->load(std::memory_order_relaxed)[view.family],
                 packet.in_ifindex)) {
    return std::nullopt;
  }
  PacketConntrack ct;
  ct.now = ConntrackClock::now();
  ct.notrack = (packet.mark & untracked_mark_) != 0;
  return tracking_.tracker->question(view, ct);
}

PacketDecision PacketPath::operator()(const QueuedPacket& packet) {
  refresh();
  HookPacket in;
  in.hook = hook_;
  in.packet = PacketView::parse(packet.payload, packet.original_length);
  in.in_ifindex = packet.in_ifindex;
  in.out_ifindex = packet.out_ifindex;
  in.cut_short = packet.original_length != packet.payload.size();
  in.now = ConntrackClock::now();
  in.packet.checksum = checksum_info(packet);
  LinkCache::Link in_link{};
  LinkCache::Link out_link{};
  if (packet.in_ifindex != 0) links_->link_of(packet.in_ifindex, in_link);
  if (packet.out_ifindex != 0) links_->link_of(packet.out_ifindex, out_link);
  in.in_interface = in_link.name.data();
  in.out_interface = out_link.name.data();
  in.link = {.receiver = in_link.device,
             .device = hook_ == Hook::kPostrouting ? out_link.device.kind : in_link.device.kind,
             .source = packet.source_mac};
  in.broadcasts = broadcasts_;
  in.mtus = links_;
  in.routes = routes_;
  // Rules never see the bit that marks an untracked packet; it stays on the packet.
  const std::uint32_t untracked_bit = packet.mark & untracked_mark_;
  in.mark = packet.mark & ~untracked_bit;
  in.untracked = untracked_bit != 0;
  in.steered = steered_hooks_->load(std::memory_order_relaxed)[in.packet.family];
  in.reply = replies_ != nullptr ? &reply_ : nullptr;
  in.log_sink = log_;
  in.socket_owner = packet.socket_owner;

  // Followed packets: selected here, or traced at an earlier hook.
  TraceHub::Arrival arrival;
  std::uint64_t fingerprint = 0;
  const bool following = traces_ != nullptr && traces_->active();
  if (following) {
    fingerprint = trace_fingerprint(in.packet);
    arrival = traces_->arrival(fingerprint, std::chrono::steady_clock::now());
    trace_.clear();
    trace_.readers = arrival.carried_readers;
    in.trace = &trace_;
    in.trace_selections = arrival.selections->list;
  }

  const HookOutcome outcome =
      run_hook(rules_, in, tracking_.tracker != nullptr ? &tracking_ : nullptr, rewritten_);

  if (following && trace_.recording()) {
    traces_->publish(trace_, *ruleset_, fingerprint, std::chrono::steady_clock::now());
  }
  if (outcome.verdict == Verdict::kDrop && drops_ != nullptr) {
    drops_->record(in, outcome, *ruleset_);
  }

  const PacketConntrack& ct = outcome.connection;
  // The kernel's entry learns of a connmark the rules changed.
  if (ct.connmark_changed && ct.has_flow && mirror_ != nullptr) {
    mirror_->sync_mark(ct.flow.original);
  }
  PacketDecision decision;
  if (outcome.verdict == Verdict::kDrop) {
    // REJECT dropped it and answered: the answer goes out now, as the
    // kernel's REJECT sends its own before the verdict returns.
    if (!reply_.bytes.empty()) replies_->send(reply_.bytes);
    decision.accept = false;
    return decision;
  }
  // Untracked by raw just now: back through the hook, so the steering rules
  // exempt it from the kernel's conntrack too and later hooks see the bit.
  const bool untrack_in_kernel = ct.notrack && !in.untracked && untracked_mark_ != 0;
  decision.mark = outcome.mark | (untrack_in_kernel ? untracked_mark_ : untracked_bit);
  decision.set_mark = decision.mark != packet.mark;
  decision.repeat = untrack_in_kernel;
  decision.payload = outcome.translated;
  return decision;
}

}  // namespace verdictd
