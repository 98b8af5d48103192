#include "pipeline/hook_stages.hpp"

#include <array>

namespace verdictd {

namespace {

constexpr Stage kRaw{StageKind::kTable, priority::kRaw, TableId::kRaw};
constexpr Stage kConntrack{StageKind::kConntrack, priority::kConntrack};
constexpr Stage kMangle{StageKind::kTable, priority::kMangle, TableId::kMangle};
constexpr Stage kNatDestination{StageKind::kNat, priority::kNatDestination, TableId::kNat};
constexpr Stage kFilter{StageKind::kTable, priority::kFilter, TableId::kFilter};
constexpr Stage kSecurity{StageKind::kTable, priority::kSecurity, TableId::kSecurity};
constexpr Stage kNatSource{StageKind::kNat, priority::kNatSource, TableId::kNat};
constexpr Stage kConfirm{StageKind::kConfirm, priority::kConntrackConfirm};

constexpr std::array kPrerouting = {kRaw, kConntrack, kMangle, kNatDestination};
constexpr std::array kInput = {kMangle, kFilter, kSecurity, kNatSource, kConfirm};
constexpr std::array kForward = {kMangle, kFilter, kSecurity};
constexpr std::array kOutput = {kRaw, kConntrack, kMangle, kNatDestination, kFilter, kSecurity};
constexpr std::array kPostrouting = {kMangle, kNatSource, kConfirm};

}  // namespace

std::span<const Stage> hook_stages(Hook hook) {
  switch (hook) {
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
