// Daemon settings: /etc/verdictd/verdictd.json, then command-line flags on top.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernel/steering.hpp"
#include "packet/hooks.hpp"
#include "ruleset/loader.hpp"

namespace verdictd {

inline constexpr std::string_view kDefaultConfigPath = "/etc/verdictd/verdictd.json";
inline constexpr std::uint16_t kMaxQueuesPerHook = 64;
inline constexpr std::uint32_t kMaxQueueWait = 3600;  // seconds

struct Config {
  std::string ruleset = "/etc/verdictd/ruleset.json";
  // The most bytes the ruleset file may have; a larger one is refused unread.
  std::size_t ruleset_max_bytes = kDefaultRulesetMaxBytes;
  std::string control_socket = "/run/verdictd/control.sock";
  // State that must outlive the process but not a reboot: the NAT binding
  // store (nat-bindings). systemd's RuntimeDirectory.
  std::string runtime_directory = "/run/verdictd";
  std::uint16_t queue_base = 0;
  std::uint16_t queues_per_hook = 1;
  // Per-hook queue ranges given explicitly ("hooks": {"INPUT": {"queues": "10:11"}}).
  std::array<std::optional<HookQueues>, kHookCount> hook_queues{};
  bool fail_open = false;
  bool accept_when_queue_full = false;
  std::uint32_t queue_maxlen = 4096;
  // Seconds to wait at start for queues another process holds (a verdictd
  // that is stopping) before giving up.
  std::uint32_t queue_wait = 5;
  SteeringBackend steering = SteeringBackend::kLegacy;
  // Most connections the flow table holds (the kernel's nf_conntrack_max).
  std::uint32_t conntrack_max = 262144;
  // The mark bit verdictd sets on a packet NOTRACK exempted from the kernel's
  // conntrack, so that later hooks know it; rules never see it.
  std::uint32_t untracked_mark = 0x80000000;
  // Debug lines in the log: each flow on which the kernel's conntrack
  // lastingly disagrees with verdictd's tracker.
  bool debug = false;
  // The last ruleset that loaded, kept to be enforced when the configured one
  // is missing or bad at start (last_good.hpp).
  std::string last_good = "/var/lib/verdictd/last-good.json";
  // Hooks whose packets are all dropped when no ruleset can be loaded at
  // start, neither the configured one nor the last good one (fail-closed).
  HookMask closed_hooks = kEveryHook;

  // The queues of a hook: explicit, or base + hook * per .. + per - 1.
  [[nodiscard]] HookQueues queues_of(Hook h) const;
};

// The command-line flags; each one set replaces the setting of the file.
struct ConfigFlags {
  std::optional<std::string> ruleset;
  std::optional<std::uint32_t> ruleset_max_bytes;
  std::optional<std::string> control_socket;
  std::optional<std::string> runtime_directory;
  std::optional<std::uint16_t> queue_base;
  std::optional<std::uint16_t> queues_per_hook;
  std::optional<std::uint32_t> queue_maxlen;
  std::optional<std::uint32_t> queue_wait;
  std::optional<bool> accept_when_queue_full;
  std::optional<SteeringBackend> steering;
  std::optional<std::uint32_t> conntrack_max;
  std::optional<std::string> last_good;
  std::optional<HookMask> closed_hooks;
  bool fail_open = false;
  bool debug = false;
};

// Reads the settings file (a missing file is no error unless `required`),
// applies the flags and checks the queue layout. Throws std::runtime_error
// with one line: `FILE:LINE:COL: /pointer: expected ...` for a bad file, or
// what is wrong with the queue numbers.
Config resolve_config(const std::string& path, bool required, const ConfigFlags& flags);

std::optional<SteeringBackend> steering_from_name(std::string_view name);
std::string_view steering_name(SteeringBackend backend);
// "INPUT,FORWARD" (or "" for none) as a set of hooks; nullopt for an unknown name.
std::optional<HookMask> hooks_from_list(std::string_view names);

}  // namespace verdictd
