// The hooks a packet crossed before the one it is at (packet/hooks.hpp), which
// LOG reports as VERDICTD_ACCEPTED_AT.
#include <gtest/gtest.h>

#include <vector>

#include "packet/hooks.hpp"

namespace verdictd {
namespace {

constexpr std::uint32_t kEth0 = 2;

std::vector<Hook> before(Hook hook, std::uint32_t in_ifindex) {
  const std::span<const Hook> hooks = hooks_before(hook, in_ifindex);
  return {hooks.begin(), hooks.end()};
}

TEST(HooksBefore, EachWayThroughTheHost) {
  using H = Hook;
  // Inbound and forwarded.
  EXPECT_EQ(before(H::kPrerouting, kEth0), std::vector<Hook>{});
  EXPECT_EQ(before(H::kInput, kEth0), std::vector<Hook>{H::kPrerouting});
  EXPECT_EQ(before(H::kForward, kEth0), std::vector<Hook>{H::kPrerouting});
  EXPECT_EQ(before(H::kPostrouting, kEth0), (std::vector<Hook>{H::kPrerouting, H::kForward}));
  // Outbound.
  EXPECT_EQ(before(H::kOutput, 0), std::vector<Hook>{});
  EXPECT_EQ(before(H::kPostrouting, 0), std::vector<Hook>{H::kOutput});
  // Loopback: out and back in on lo.
  EXPECT_EQ(before(H::kPrerouting, kLoopbackIfindex),
            (std::vector<Hook>{H::kOutput, H::kPostrouting}));
  EXPECT_EQ(before(H::kInput, kLoopbackIfindex),
            (std::vector<Hook>{H::kOutput, H::kPostrouting, H::kPrerouting}));
}

}  // namespace
}  // namespace verdictd
