#include "packet/hooks.hpp"

namespace verdictd {

namespace {

constexpr std::array<std::string_view, kHookCount> kHookNames = {"PREROUTING", "INPUT", "FORWARD",
                                                                 "OUTPUT", "POSTROUTING"};
constexpr std::array<std::string_view, kTableCount> kTableNames = {"raw", "mangle", "nat", "filter",
                                                                   "security"};

}  // namespace

std::string_view hook_name(Hook h) { return kHookNames.at(static_cast<std::size_t>(h)); }

std::optional<Hook> hook_from_name(std::string_view name) {
  for (Hook h : kAllHooks) {
    if (hook_name(h) == name) return h;
  }
  return std::nullopt;
}

std::string_view table_name(TableId t) { return kTableNames.at(static_cast<std::size_t>(t)); }

std::optional<TableId> table_from_name(std::string_view name) {
  for (TableId t : kAllTables) {
    if (table_name(t) == name) return t;
  }
  return std::nullopt;
}

HookMask table_hooks(TableId t) {
  switch (t) {
    case TableId::kRaw:
      return hook_bit(Hook::kPrerouting) | hook_bit(Hook::kOutput);
    case TableId::kMangle:
      return kEveryHook;
    case TableId::kNat:
      return hook_bit(Hook::kPrerouting) | hook_bit(Hook::kInput) | hook_bit(Hook::kOutput) |
             hook_bit(Hook::kPostrouting);
    case TableId::kFilter:
    case TableId::kSecurity:
      return hook_bit(Hook::kInput) | hook_bit(Hook::kForward) | hook_bit(Hook::kOutput);
  }
  return 0;
}

std::span<const Hook> hooks_before(Hook hook, std::uint32_t in_ifindex) {
  static constexpr std::array<Hook, 3> kLoopbackWay = {Hook::kOutput, Hook::kPostrouting,
                                                       Hook::kPrerouting};
  static constexpr std::array<Hook, 2> kForwardedWay = {Hook::kPrerouting, Hook::kForward};
  const bool loopback = in_ifindex == kLoopbackIfindex;
  switch (hook) {
    case Hook::kPrerouting:
      return loopback ? std::span(kLoopbackWay).first(2) : std::span<const Hook>();
    case Hook::kInput:
      return loopback ? std::span(kLoopbackWay) : std::span(kForwardedWay).first(1);
    case Hook::kForward:
      return std::span(kForwardedWay).first(1);
    case Hook::kOutput:
      return {};
    case Hook::kPostrouting:
      return in_ifindex != 0 ? std::span(kForwardedWay) : std::span(kLoopbackWay).first(1);
  }
  return {};
}

}  // namespace verdictd
