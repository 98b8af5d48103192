#include "packet/hooks.hpp"

namespace verdictd {

namespace {

constexpr std::array<std::string_view, kHookCount> kHookNames = {"PREROUTING", "INPUT", "FORWARD",
                                                                 "OUTPUT", "POSTROUTING"};
constexpr std::array<std::string_view, kTableCount> kTableNames = {"raw", "mangle", "nat", "filter",
                                                                   "security"};

constexpr std::array<HookStage, 3> kPrerouting = {
    {{TableId::kRaw, false}, {TableId::kMangle, false}, {TableId::kNat, true}}};
constexpr std::array<HookStage, 4> kInput = {{{TableId::kMangle, false},
                                              {TableId::kFilter, false},
                                              {TableId::kSecurity, false},
                                              {TableId::kNat, true}}};
constexpr std::array<HookStage, 3> kForward = {
    {{TableId::kMangle, false}, {TableId::kFilter, false}, {TableId::kSecurity, false}}};
constexpr std::array<HookStage, 5> kOutput = {{{TableId::kRaw, false},
                                               {TableId::kMangle, false},
                                               {TableId::kNat, true},
                                               {TableId::kFilter, false},
                                               {TableId::kSecurity, false}}};
constexpr std::array<HookStage, 2> kPostrouting = {
    {{TableId::kMangle, false}, {TableId::kNat, true}}};

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

std::span<const HookStage> hook_pipeline(Hook h) {
  switch (h) {
    case Hook::kPrerouting:
      return kPrerouting;
    case Hook::kInput:
      return kInput;
    case Hook::kForward:
      return kForward;
    case Hook::kOutput:
      return kOutput;
    case Hook::kPostrouting:
      return kPostrouting;
  }
  return {};
}

}  // namespace verdictd
