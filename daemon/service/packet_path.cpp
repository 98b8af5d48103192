#include "service/packet_path.hpp"

#include "engine/engine.hpp"

namespace verdictd {

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
  state.mark = packet.mark;
  const Verdict verdict = evaluate_hook(*ruleset_, view, state);
  return {.accept = verdict == Verdict::kAccept,
          .mark = state.mark,
          .set_mark = state.mark != packet.mark};
}

}  // namespace verdictd
