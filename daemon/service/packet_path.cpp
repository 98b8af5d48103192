#include "service/packet_path.hpp"

#include "engine/engine.hpp"

namespace verdictd {

PacketDecision decide(const RulesetHolder& rulesets, const LinkCache& links, Hook hook,
                      const QueuedPacket& packet) {
  const std::shared_ptr<const Ruleset> ruleset = rulesets.snapshot();
  const PacketView view = PacketView::parse(packet.payload);
  InterfaceName in{};
  InterfaceName out{};
  if (packet.in_ifindex != 0) links.name_of(packet.in_ifindex, in);
  if (packet.out_ifindex != 0) links.name_of(packet.out_ifindex, out);
  EvalState state;
  state.hook = hook;
  state.in_interface = in.data();
  state.out_interface = out.data();
  state.mark = packet.mark;
  const Verdict verdict = evaluate_hook(*ruleset, view, state);
  PacketDecision decision;
  decision.accept = verdict == Verdict::kAccept;
  decision.mark = state.mark;
  decision.set_mark = state.mark != packet.mark;
  return decision;
}

}  // namespace verdictd
