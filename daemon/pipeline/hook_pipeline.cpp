#include "pipeline/hook_pipeline.hpp"

#include <algorithm>
#include <optional>

#include "conntrack/icmp_tracking.hpp"
#include "conntrack/tracking_points.hpp"
#include "nat/nat_translation.hpp"
#include "pipeline/hook_stages.hpp"
#include "pipeline/unknown_binding.hpp"

namespace verdictd {

namespace {

bool is_icmp_error(const PacketView& packet) {
  const bool icmp =
      packet.protocol == (packet.family == Family::kIPv4 ? ipproto::kIcmp : ipproto::kIcmpv6);
  return icmp && packet.has_icmp && icmp_is_error(packet.family, packet.icmp_type);
}

bool has_conntrack_stage(Hook hook) {
  const auto stages = hook_stages(hook);
  return std::any_of(stages.begin(), stages.end(),
                     [](const Stage& stage) { return stage.kind == StageKind::kConntrack; });
}

// The connection stages of one packet at one hook, over the packet's
// connection (`ct`, a copy of its flow that the rules may change).
class ConnectionStages {
 public:
  ConnectionStages(const PipelineRules& rules, const HookPacket& in,
                   const ConnectionTracking& tracking, PacketConntrack& ct)
      : in_(&in),
        tracking_(&tracking),
        ct_(&ct),
        bindable_(in.packet.has_network ? rules.bindable[family_index(in.packet.family)] : 0) {}

  // The packet's connection: found or created where the packet is tracked
  // (tracks_at), recalled from the flow table elsewhere. False when the
  // kernel drops the packet: a new connection with the table full
  // (nf_conntrack_in's NF_DROP).
  bool connect(const PacketView& packet, EvalState& state) {
    if (tracks_at(in_->hook, in_->steered, in_->in_ifindex)) {
      tracking_->tracker->track(packet, *ct_);
    } else {
      tracking_->tracker->recall(packet, *ct_);
    }
    connected_ = true;
    // The nat chains see a connection's first packet for each manipulation;
    // ICMP errors are translated with the connection they are about instead.
    // A connection adopted from the kernel meets them with its next packet
    // (unknown_binding.hpp).
    const std::uint8_t manip = nat_manip_of(in_->hook);
    const bool adopted = ct_->state == CtState::kEstablished &&
                         ct_->direction == Direction::kOriginal &&
                         (ct_->flow.nat_unknown & manip) != 0;
    const bool first = ct_->state == CtState::kNew || adopted ||
                       (ct_->state == CtState::kRelated && !is_icmp_error(packet));
    state.first_packet_of_connection = first && ct_->has_flow && (ct_->flow.nat_done & manip) == 0;
    return !ct_->table_full;
  }
  [[nodiscard]] bool connected() const { return connected_; }

  // After the nat chains: the null binding of a first packet they did not
  // bind (nf_nat_inet_fn), then the packet translated by its connection's
  // binding (nf_nat_packet), in `packet`, which the later stages see. False
  // when the kernel drops it: its binding is unknown, or it cannot be
  // translated.
  bool translate(WorkingPacket& packet, EvalState& state) {
    if (!ct_->has_flow) return true;
    const std::uint8_t manip = nat_manip_of(in_->hook);
    if (state.first_packet_of_connection && (ct_->flow.nat_done & manip) == 0) {
      // A null binding, so that the connection's later packets skip the chains.
      ct_->flow.nat_done |= manip;
      tracking_->flows->note_null_binding(ct_->flow.original, manip, ct_->now);
    }
    if (needs_unknown_binding(ct_->flow, ct_->direction, in_->hook, bindable_)) {
      if (state.nat != nullptr) state.nat->note_unbound_drop();
      state.dropped_by = {.kind = DropCause::Kind::kNat, .table = TableId::kNat};
      return false;
    }
    const auto translation = nat_translation(in_->hook, ct_->flow, ct_->direction);
    if (!translation) return true;
    const bool is_error = is_icmp_error(packet.view());
    // Null for a packet copied cut short, which cannot be handed back whole.
    std::vector<std::uint8_t>* bytes = packet.bytes();
    // The copy's checksums are final (WorkingPacket::bytes), so not partial.
    const bool done =
        bytes != nullptr &&
        (is_error ? apply_manip_to_icmp_error(*bytes, translation->outer, translation->inner)
                  : apply_manip(*bytes, translation->outer, /*checksum_partial=*/false));
    if (bytes != nullptr) packet.reparse();
    if (!done) {
      state.dropped_by = {.kind = DropCause::Kind::kNat, .table = TableId::kNat};
      return false;
    }
    if (state.trace != nullptr && state.trace->recording()) {
      state.trace->steps.push_back({.kind = TraceStepKind::kTranslated,
                                    .table = TableId::kNat,
                                    .outcome = TraceOutcome::kContinue,
                                    .after = PacketFacts::of(packet.view(), state.mark)});
    }
    return true;
  }

  // The packet's changes to its connection, made on the copy, written back
  // (the kernel makes them in place); a dropped first packet takes its
  // connection with it, as the kernel's unconfirmed entry dies with its packet.
  void settle(Verdict verdict) {
    if (ct_->connmark_changed && ct_->has_flow) {
      tracking_->flows->modify(ct_->flow.original, ct_->now,
                               [mark = ct_->flow.mark](Flow& flow, Direction /*direction*/) {
                                 flow.mark = mark;
                                 flow.mark_unsynced = true;
                               });
    }
    if (verdict == Verdict::kDrop) tracking_->tracker->dropped(*ct_);
  }

 private:
  const HookPacket* in_;
  const ConnectionTracking* tracking_;
  PacketConntrack* ct_;
  std::uint8_t bindable_;
  bool connected_ = false;
};

}  // namespace

PipelineRules::PipelineRules(const Ruleset& rules, RulesetState& rules_state)
    : ruleset(&rules), state(&rules_state), bindable(bindable_manips(rules)) {}

HookOutcome run_hook(const PipelineRules& rules, const HookPacket& in,
                     const ConnectionTracking* tracking, std::vector<std::uint8_t>& rewritten) {
  const Ruleset& ruleset = *rules.ruleset;
  HookOutcome out;
  PacketConntrack& ct = out.connection;
  ct.now = in.now;
  ct.notrack = in.untracked;
  ct.crossed_prerouting = crossed_prerouting(in.hook, in.in_ifindex);
  EvalState state;
  state.ruleset_state = rules.state;
  state.hook = in.hook;
  state.in_interface = in.in_interface;
  state.out_interface = in.out_interface;
  state.in_ifindex = in.in_ifindex;
  state.out_ifindex = in.out_ifindex;
  state.mark = in.mark;
  state.broadcasts = in.broadcasts;
  state.reply = in.reply;
  if (in.reply != nullptr) in.reply->bytes.clear();
  state.mtus = in.mtus;
  WorkingPacket working(in.packet, rewritten, in.cut_short);
  state.working = &working;
  state.log_sink = in.log_sink;
  state.socket_owner = in.socket_owner;
  state.link = in.link;
  state.routes = in.routes;

  if (in.trace != nullptr) {
    PacketTrace& trace = *in.trace;
    trace.steps.clear();
    for (const TraceSelection& selection : in.trace_selections) {
      if (selection.selector->selects(in.packet, state)) trace.readers |= selection.reader;
    }
    trace.hook = in.hook;
    trace.in_interface = in.in_interface;
    trace.out_interface = in.out_interface;
    trace.arrived = PacketFacts::of(in.packet, in.mark);
    state.trace = &trace;
  }

  std::optional<ConnectionStages> connection;
  if (tracking != nullptr && ruleset.tracks(in.packet.family)) {
    connection.emplace(rules, in, *tracking, ct);
    state.conntrack = &ct;
    state.flows = tracking->flows;
    if (ruleset.uses_nat) state.nat = tracking->nat;
  }
  // What the stages see: the packet, rewritten in place by NAT and the mangle targets.
  const PacketView& packet = working.view();
  // The stages; a drop ends the packet.
  const auto run_stages = [&]() -> Verdict {
    // A packet arrives with its connection where the hook has no conntrack
    // stage (tracked at an earlier hook; tracked here when none was steered),
    // and a loopback packet coming back in keeps the one it got on its way
    // out (nf_conntrack_in's "previously seen"), so that even raw sees it.
    if (connection && (arrives_tracked(in.hook, in.in_ifindex) || !has_conntrack_stage(in.hook)) &&
        !connection->connect(packet, state)) {
      state.dropped_by = {.kind = DropCause::Kind::kTableFull};
      return Verdict::kDrop;
    }
    for (const Stage& stage : hook_stages(in.hook)) {
      switch (stage.kind) {
        case StageKind::kTable:
          if (evaluate_table(ruleset.table(stage.table), packet, state) == Verdict::kDrop) {
            return Verdict::kDrop;
          }
          break;
        case StageKind::kConntrack:
          if (connection && !connection->connected() && !connection->connect(packet, state)) {
            state.dropped_by = {.kind = DropCause::Kind::kTableFull};
            return Verdict::kDrop;
          }
          break;
        case StageKind::kNat:
          if (state.first_packet_of_connection &&
              evaluate_table(ruleset.table(stage.table), packet, state) == Verdict::kDrop) {
            return Verdict::kDrop;
          }
          if (connection && !connection->translate(working, state)) return Verdict::kDrop;
          break;
        case StageKind::kConfirm:
          // The kernel enters a new connection into its table here. The
          // tracker entered it at the conntrack stage and takes it out again
          // if the packet is dropped before this point (settle); it learns of
          // the confirmation from the connection's next packet.
          break;
      }
    }
    return Verdict::kAccept;
  };
  out.verdict = run_stages();
  if (connection) connection->settle(out.verdict);
  out.mark = state.mark;
  out.dropped_by = state.dropped_by;
  if (state.trace != nullptr) state.trace->accepted = out.verdict == Verdict::kAccept;
  if (out.verdict == Verdict::kAccept && working.rewritten()) out.translated = packet.bytes;
  return out;
}

}  // namespace verdictd
