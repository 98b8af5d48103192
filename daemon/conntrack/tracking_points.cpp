#include "conntrack/tracking_points.hpp"

namespace verdictd {

namespace {

constexpr HookMask kInboundWay = hook_bit(Hook::kPrerouting) | hook_bit(Hook::kInput);
constexpr HookMask kForwardedWay =
    hook_bit(Hook::kPrerouting) | hook_bit(Hook::kForward) | hook_bit(Hook::kPostrouting);
constexpr HookMask kOutboundWay = hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting);

}  // namespace

HookMask hooks_for_tracking(HookMask rule_hooks) {
  HookMask steered = rule_hooks;
  if ((steered & kInboundWay) == 0) steered |= hook_bit(Hook::kInput);
  const bool sees_forwarded = (rule_hooks & ~hook_bit(Hook::kInput)) != 0;
  if (sees_forwarded && (steered & kForwardedWay) == 0) steered |= hook_bit(Hook::kForward);
  if ((steered & kOutboundWay) == 0) steered |= hook_bit(Hook::kOutput);
  return steered;
}

bool arrives_tracked(Hook hook, std::uint32_t in_ifindex) {
  return in_ifindex == kLoopbackIfindex && (hook == Hook::kPrerouting || hook == Hook::kInput);
}

bool tracks_at(Hook hook, HookMask steered, std::uint32_t in_ifindex) {
  const auto steered_at = [steered](Hook h) { return (steered & hook_bit(h)) != 0; };
  // hooks_for_tracking always covers the outbound way, so a loopback packet
  // was tracked on its way out.
  if (arrives_tracked(hook, in_ifindex)) return false;
  switch (hook) {
    case Hook::kPrerouting:
      return true;
    case Hook::kInput:
    case Hook::kForward:
      return !steered_at(Hook::kPrerouting);
    case Hook::kOutput:
      return true;
    case Hook::kPostrouting:
      // A packet at POSTROUTING that came in on an interface is being forwarded.
      return in_ifindex != 0 ? !steered_at(Hook::kPrerouting) && !steered_at(Hook::kForward)
                             : !steered_at(Hook::kOutput);
  }
  return true;
}

bool crossed_prerouting(Hook hook, std::uint32_t in_ifindex) {
  return in_ifindex != 0 && hook != Hook::kOutput && !arrives_tracked(hook, in_ifindex);
}

}  // namespace verdictd
