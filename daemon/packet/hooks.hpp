// Netfilter hooks and tables, and which table registers a chain at which
// hook (the order they run in is pipeline/hook_stages.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
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
