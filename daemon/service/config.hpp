// Daemon settings: /etc/verdictd/verdictd.json, then command-line flags on top.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "queue/queue_worker.hpp"
#include "queue/steering.hpp"
#include "ruleset/hooks.hpp"

namespace verdictd {

struct Config {
  std::string ruleset = "/etc/verdictd/ruleset.json";
  std::string control_socket = "/run/verdictd/control.sock";
  std::uint16_t queue_base = 0;
  std::uint16_t queues_per_hook = 1;
  // Per-hook queue ranges given explicitly ("hooks": {"INPUT": {"queues": "10:11"}}).
  std::array<std::optional<HookQueues>, kHookCount> hook_queues{};
  bool fail_open = false;
  bool accept_when_queue_full = false;
  std::uint32_t queue_maxlen = 4096;
  SteeringBackend steering = SteeringBackend::kLegacy;

  // The queues of a hook: explicit, or base + hook * per .. + per - 1.
  [[nodiscard]] HookQueues queues_of(Hook h) const;
};

// Reads a daemon config file. A missing file at the default path is no error
// (`required` false); anything malformed throws RulesetError with its place.
Config load_config(const std::string& path, bool required);

// "10" or "10:11" → a queue range; throws FieldError.
HookQueues parse_queue_range(const std::string& text);
std::optional<SteeringBackend> steering_from_name(std::string_view name);
std::string_view steering_name(SteeringBackend backend);

}  // namespace verdictd
