// Which hooks are steered for tracking, and where each packet is tracked.

#include <gtest/gtest.h>

#include "conntrack/tracking_points.hpp"

namespace verdictd {
namespace {

constexpr HookMask kPre = hook_bit(Hook::kPrerouting);
constexpr HookMask kIn = hook_bit(Hook::kInput);
constexpr HookMask kFwd = hook_bit(Hook::kForward);
constexpr HookMask kOut = hook_bit(Hook::kOutput);
constexpr HookMask kPost = hook_bit(Hook::kPostrouting);
constexpr std::uint32_t kEth = 7;  // any interface but loopback

// Each way a packet takes through the host, as (hook, incoming interface)
// stops; exactly one steered stop must track it.
struct Stop {
  Hook hook;
  std::uint32_t in_ifindex;
};
const std::vector<std::vector<Stop>>& ways() {
  static const std::vector<std::vector<Stop>> all = {
      {{Hook::kPrerouting, kEth}, {Hook::kInput, kEth}},
      {{Hook::kPrerouting, kEth}, {Hook::kForward, kEth}, {Hook::kPostrouting, kEth}},
      {{Hook::kOutput, 0}, {Hook::kPostrouting, 0}},
      {{Hook::kOutput, 0},
       {Hook::kPostrouting, 0},
       {Hook::kPrerouting, kLoopbackIfindex},
       {Hook::kInput, kLoopbackIfindex}},
  };
  return all;
}

TEST(ConntrackTrackingPoints, HostFirewallInInputAlsoSteersOutputNotForward) {
  EXPECT_EQ(hooks_for_tracking(kIn), kIn | kOut);
}

TEST(ConntrackTrackingPoints, EgressFirewallInOutputSteersInputAndForward) {
  // OUTPUT carries the host's ICMP errors about forwarded packets.
  EXPECT_EQ(hooks_for_tracking(kOut), kIn | kFwd | kOut);
}

TEST(ConntrackTrackingPoints, GatewayInForwardSteersTheHostsOwnWays) {
  EXPECT_EQ(hooks_for_tracking(kFwd), kIn | kFwd | kOut);
}

TEST(ConntrackTrackingPoints, PreroutingAndPostroutingCoverEverything) {
  EXPECT_EQ(hooks_for_tracking(kPre | kPost), kPre | kPost);
  EXPECT_EQ(hooks_for_tracking(kPre), kPre | kOut);
  EXPECT_EQ(hooks_for_tracking(kPost), kIn | kPost);
}

TEST(ConntrackTrackingPoints, EveryWayIsTrackedExactlyOnceForEveryPlacement) {
  for (HookMask rules = 1; rules <= kEveryHook; ++rules) {
    const HookMask steered = hooks_for_tracking(rules);
    EXPECT_EQ(steered & rules, rules);
    for (std::size_t w = 0; w < ways().size(); ++w) {
      int tracked = 0;
      for (const Stop& stop : ways()[w]) {
        if ((steered & hook_bit(stop.hook)) != 0 &&
            tracks_at(stop.hook, steered, stop.in_ifindex)) {
          ++tracked;
        }
      }
      // The forwarded way is left alone only when every rule sits in INPUT.
      const int expected = w == 1 && rules == kIn ? 0 : 1;
      EXPECT_EQ(tracked, expected) << "rules at " << int(rules) << ", way " << w;
    }
  }
}

TEST(ConntrackTrackingPoints, LoopbackIsTrackedOnTheWayOut) {
  const HookMask steered = kPre | kIn | kOut;
  EXPECT_TRUE(tracks_at(Hook::kOutput, steered, 0));
  EXPECT_FALSE(tracks_at(Hook::kPrerouting, steered, kLoopbackIfindex));
  EXPECT_FALSE(tracks_at(Hook::kInput, steered, kLoopbackIfindex));
  EXPECT_TRUE(tracks_at(Hook::kPrerouting, steered, kEth));
  EXPECT_FALSE(tracks_at(Hook::kInput, steered, kEth));
}

TEST(ConntrackTrackingPoints, ChecksumsAreTestedOnPacketsThatCameInThroughPrerouting) {
  // Inbound and forwarded packets, wherever verdictd tracks them.
  EXPECT_TRUE(crossed_prerouting(Hook::kPrerouting, kEth));
  EXPECT_TRUE(crossed_prerouting(Hook::kInput, kEth));
  EXPECT_TRUE(crossed_prerouting(Hook::kForward, kEth));
  EXPECT_TRUE(crossed_prerouting(Hook::kPostrouting, kEth));
  // Locally generated ones, and loopback ones tracked on their way out.
  EXPECT_FALSE(crossed_prerouting(Hook::kOutput, 0));
  EXPECT_FALSE(crossed_prerouting(Hook::kPostrouting, 0));
  EXPECT_FALSE(crossed_prerouting(Hook::kPrerouting, kLoopbackIfindex));
  EXPECT_FALSE(crossed_prerouting(Hook::kInput, kLoopbackIfindex));
}

}  // namespace
}  // namespace verdictd
