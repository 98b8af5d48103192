// Netfilter hooks and tables, and which table registers a chain at which
// hook (the order they run in is pipeline/hook_stages.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "packet/address.hpp"

namespace verdictd {

enum class Hook : std::uint8_t { kPrerouting, kInput, kForward, kOutput, kPostrouting };
inline constexpr std::size_t kHookCount = 5;
inline constexpr std::array<Hook, kHookCount> kAllHooks = {
    Hook::kPrerouting, Hook::kInput, Hook::kForward, Hook::kOutput, Hook::kPostrouting};

using HookMask = std::uint8_t;
constexpr HookMask hook_bit(Hook h) {
  return static_cast<HookMask>(1U << static_cast<unsigned>(h));
}
inline constexpr HookMask kEveryHook = 0x1f;

// Hooks per address family: iptables and ip6tables keep their tables apart.
struct FamilyHooks {
  std::array<HookMask, kFamilyCount> masks{};

  HookMask& operator[](Family f) { return masks[family_index(f)]; }
  HookMask operator[](Family f) const { return masks[family_index(f)]; }
  [[nodiscard]] HookMask either() const { return masks[0] | masks[1]; }
  friend bool operator==(const FamilyHooks&, const FamilyHooks&) = default;
};

// The loopback device's index, the same in every network namespace
// (LOOPBACK_IFINDEX, checked in loopback_net_init).
inline constexpr std::uint32_t kLoopbackIfindex = 1;

// The hooks a packet at `hook` crossed before it, in order, each of which
// accepted it: its way through the host (forwarded: PREROUTING, FORWARD,
// POSTROUTING; a loopback packet: OUTPUT, POSTROUTING, then in on `lo`
// PREROUTING, INPUT). `in_ifindex`: its input interface, 0 for none. A
// broadcast or multicast copy looped back on another device (dev_loopback_xmit)
// is taken as coming from outside: only the hooks since it came back in.
std::span<const Hook> hooks_before(Hook hook, std::uint32_t in_ifindex);

enum class TableId : std::uint8_t { kRaw, kMangle, kNat, kFilter, kSecurity };
inline constexpr std::size_t kTableCount = 5;
inline constexpr std::array<TableId, kTableCount> kAllTables = {
    TableId::kRaw, TableId::kMangle, TableId::kNat, TableId::kFilter, TableId::kSecurity};

std::string_view hook_name(Hook h);  // "PREROUTING"
std::optional<Hook> hook_from_name(std::string_view name);
std::string_view table_name(TableId t);  // "filter"
std::optional<TableId> table_from_name(std::string_view name);

// The hooks at which a table has a built-in chain, e.g. filter: INPUT FORWARD OUTPUT.
HookMask table_hooks(TableId t);

}  // namespace verdictd
