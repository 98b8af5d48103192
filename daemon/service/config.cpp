#include "service/config.hpp"

#include <filesystem>
#include <stdexcept>

#include "extension/error.hpp"
#include "extension/values.hpp"
#include "ruleset/json_document.hpp"
#include "text/json_position.hpp"

namespace verdictd {

HookQueues Config::queues_of(Hook h) const {
  if (const auto& explicit_range = hook_queues[static_cast<std::size_t>(h)]) return *explicit_range;
  return {static_cast<std::uint16_t>(queue_base + static_cast<unsigned>(h) * queues_per_hook),
          queues_per_hook};
}

std::optional<SteeringBackend> steering_from_name(std::string_view name) {
  if (name == "legacy") return SteeringBackend::kLegacy;
  if (name == "nft") return SteeringBackend::kNft;
  return std::nullopt;
}

std::string_view steering_name(SteeringBackend backend) {
  return backend == SteeringBackend::kLegacy ? "legacy" : "nft";
}

std::optional<HookMask> hooks_from_list(std::string_view names) {
  HookMask hooks = 0;
  while (!names.empty()) {
    const std::size_t comma = names.find(',');
    const auto hook = hook_from_name(names.substr(0, comma));
    if (!hook) return std::nullopt;
    hooks |= hook_bit(*hook);
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
  }
  return hooks;
}

namespace {

// A settings file is a few hundred bytes.
constexpr std::size_t kMaxSettingsBytes = std::size_t{1} << 20;

// Runs `parse` on root[key]; a FieldError it throws gets the key's pointer.
template <typename Parse>
auto setting(const Json& root, const char* key, Parse parse) {
  try {
    return parse(root.at(key));
  } catch (FieldError& e) {
    e.pointer_suffix = "/" + json_pointer_token(key) + e.pointer_suffix;
    throw;
  }
}

bool parse_bool(const Json& v) {
  if (!v.is_boolean()) throw_expected("true or false", v);
  return v.get<bool>();
}

HookQueues parse_hook_queues(const Json& v) {
  const PortRange range = parse_u16_range(v, "a queue number 0-65535 or \"first:last\"");
  const unsigned count = range.high - range.low + 1U;
  if (count > kMaxQueuesPerHook) throw_expected("a range of at most 64 queues", v);
  return {range.low, static_cast<std::uint16_t>(count)};
}

void apply_file_settings(Config& config, const Json& root) {
  expect_object_keys(root,
                     {"ruleset", "ruleset_max_bytes", "control_socket", "runtime_directory",
                      "queue_base", "queues_per_hook", "hooks", "fail_open", "queue_full",
                      "queue_maxlen", "queue_wait", "steering", "conntrack_max", "untracked_mark",
                      "debug", "last_good", "closed_hooks", "comment", "$schema"},
                     "an object of daemon settings");
  if (root.contains("ruleset")) {
    config.ruleset =
        setting(root, "ruleset", [](const Json& v) { return expect_string(v, "a file name"); });
  }
  if (root.contains("ruleset_max_bytes")) {
    config.ruleset_max_bytes = setting(root, "ruleset_max_bytes", [](const Json& v) {
      const std::uint32_t bytes =
          parse_uint(v, kMaxRulesetMaxBytes, "a number of bytes 1-4294967295");
      if (bytes == 0) throw_expected("a number of bytes 1-4294967295", v);
      return bytes;
    });
  }
  if (root.contains("control_socket")) {
    config.control_socket = setting(
        root, "control_socket", [](const Json& v) { return expect_string(v, "a socket path"); });
  }
  if (root.contains("queue_base")) {
    config.queue_base = setting(root, "queue_base", [](const Json& v) {
      return static_cast<std::uint16_t>(parse_uint(v, 65535, "a queue number 0-65535"));
    });
  }
  if (root.contains("queues_per_hook")) {
    config.queues_per_hook = setting(root, "queues_per_hook", [](const Json& v) {
      const std::uint32_t count = parse_uint(v, kMaxQueuesPerHook, "a count of queues 1-64");
      if (count == 0) throw_expected("a count of queues 1-64", v);
      return static_cast<std::uint16_t>(count);
    });
  }
  if (root.contains("queue_maxlen")) {
    config.queue_maxlen = setting(root, "queue_maxlen", [](const Json& v) {
      const std::uint32_t length = parse_uint(v, 1U << 20, "a queue length 1-1048576");
      if (length == 0) throw_expected("a queue length 1-1048576", v);
      return length;
    });
  }
  if (root.contains("queue_wait")) {
    config.queue_wait = setting(root, "queue_wait", [](const Json& v) {
      return parse_uint(v, kMaxQueueWait, "a number of seconds 0-3600");
    });
  }
  if (root.contains("runtime_directory")) {
    config.runtime_directory = setting(root, "runtime_directory", [](const Json& v) {
      return expect_string(v, "a directory path");
    });
  }
  if (root.contains("conntrack_max")) {
    config.conntrack_max = setting(root, "conntrack_max", [](const Json& v) {
      const std::uint32_t count = parse_uint(v, 1U << 26, "a number of connections 1-67108864");
      if (count == 0) throw_expected("a number of connections 1-67108864", v);
      return count;
    });
  }
  if (root.contains("untracked_mark")) {
    config.untracked_mark = setting(root, "untracked_mark", [](const Json& v) {
      const std::uint32_t bit = parse_value_mask(v, "one mark bit such as \"0x80000000\"").first;
      if (bit == 0 || (bit & (bit - 1)) != 0) {
        throw_expected("one mark bit such as \"0x80000000\"", v);
      }
      return bit;
    });
  }
  if (root.contains("last_good")) {
    config.last_good =
        setting(root, "last_good", [](const Json& v) { return expect_string(v, "a file name"); });
  }
  if (root.contains("closed_hooks")) {
    config.closed_hooks = setting(root, "closed_hooks", [](const Json& v) {
      constexpr const char* kExpected = "a list of hooks such as [\"INPUT\", \"FORWARD\"]";
      if (!v.is_array()) throw_expected(kExpected, v);
      HookMask hooks = 0;
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto hook = v[i].is_string() ? hook_from_name(v[i].get<std::string>()) : std::nullopt;
        if (!hook) {
          throw FieldError(
              "expected PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING, got " + v[i].dump(),
              "/" + std::to_string(i));
        }
        hooks |= hook_bit(*hook);
      }
      return hooks;
    });
  }
  if (root.contains("fail_open")) config.fail_open = setting(root, "fail_open", parse_bool);
  if (root.contains("debug")) config.debug = setting(root, "debug", parse_bool);
  if (root.contains("queue_full")) {
    config.accept_when_queue_full = setting(root, "queue_full", [](const Json& v) {
      if (v != "accept" && v != "drop") throw_expected("\"accept\" or \"drop\"", v);
      return v == "accept";
    });
  }
  if (root.contains("steering")) {
    config.steering = setting(root, "steering", [](const Json& v) {
      const auto backend = v.is_string() ? steering_from_name(v.get<std::string>()) : std::nullopt;
      if (!backend) throw_expected("\"legacy\" or \"nft\"", v);
      return *backend;
    });
  }
  if (root.contains("hooks")) {
    setting(root, "hooks", [&config](const Json& hooks) {
      if (!hooks.is_object()) throw_expected("an object of hooks", hooks);
      for (const auto& [name, body] : hooks.items()) {
        const std::string pointer = "/" + json_pointer_token(name);
        const auto hook = hook_from_name(name);
        if (!hook) {
          throw FieldError("unknown hook " + Json(name).dump() +
                               "; expected PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING",
                           pointer);
        }
        try {
          expect_object_keys(body, {"queues"}, "{\"queues\": \"first:last\"}");
          if (!body.contains("queues")) throw_expected("{\"queues\": \"first:last\"}", body);
          config.hook_queues[static_cast<std::size_t>(*hook)] =
              setting(body, "queues", parse_hook_queues);
        } catch (FieldError& e) {
          e.pointer_suffix = pointer + e.pointer_suffix;
          throw;
        }
      }
    });
  }
}

// The file's settings; a syntax error, a repeated key or a bad value throws
// RulesetError, whose text names FILE:LINE:COL and the JSON pointer.
void read_file_settings(Config& config, const std::string& path) {
  const JsonDocument document = JsonDocument::read(path, {kMaxSettingsBytes, ""});
  try {
    apply_file_settings(config, document.root());
  } catch (const FieldError& e) {
    throw document.error_at(e.pointer_suffix, e.what());
  }
}

std::string range_text(const HookQueues& q) {
  std::string text = std::to_string(q.first);
  if (q.count > 1) text += ":" + std::to_string(q.first + q.count - 1);
  return text;
}

// Every hook gets its own queues, all within 0-65535.
void check_queue_layout(const Config& config) {
  for (Hook h : kAllHooks) {
    const HookQueues q = config.queues_of(h);
    const unsigned last = static_cast<unsigned>(config.queue_base) +
                          static_cast<unsigned>(h) * config.queues_per_hook +
                          config.queues_per_hook - 1U;
    if (!config.hook_queues[static_cast<std::size_t>(h)] && last > 65535) {
      throw std::runtime_error("the queues of " + std::string(hook_name(h)) + " would end at " +
                               std::to_string(last) +
                               ", past 65535: lower queue_base or queues_per_hook");
    }
    for (Hook other : kAllHooks) {
      if (other >= h) break;
      const HookQueues o = config.queues_of(other);
      if (q.first < o.first + o.count && o.first < q.first + q.count) {
        throw std::runtime_error("the queues of " + std::string(hook_name(h)) + " (" +
                                 range_text(q) + ") overlap those of " +
                                 std::string(hook_name(other)) + " (" + range_text(o) +
                                 "): every hook needs queues of its own");
      }
    }
  }
}

}  // namespace

Config resolve_config(const std::string& path, bool required, const ConfigFlags& flags) {
  Config config;
  // Without a settings file the defaults hold, unless one was named.
  if (required || std::filesystem::exists(path)) read_file_settings(config, path);
  if (flags.ruleset) config.ruleset = *flags.ruleset;
  if (flags.ruleset_max_bytes) config.ruleset_max_bytes = *flags.ruleset_max_bytes;
  if (flags.control_socket) config.control_socket = *flags.control_socket;
  if (flags.runtime_directory) config.runtime_directory = *flags.runtime_directory;
  if (flags.queue_base) config.queue_base = *flags.queue_base;
  if (flags.queues_per_hook) config.queues_per_hook = *flags.queues_per_hook;
  if (flags.queue_maxlen) config.queue_maxlen = *flags.queue_maxlen;
  if (flags.queue_wait) config.queue_wait = *flags.queue_wait;
  if (flags.accept_when_queue_full) config.accept_when_queue_full = *flags.accept_when_queue_full;
  if (flags.steering) config.steering = *flags.steering;
  if (flags.conntrack_max) config.conntrack_max = *flags.conntrack_max;
  if (flags.last_good) config.last_good = *flags.last_good;
  if (flags.closed_hooks) config.closed_hooks = *flags.closed_hooks;
  if (flags.fail_open) config.fail_open = true;
  if (flags.debug) config.debug = true;
  check_queue_layout(config);
  return config;
}

}  // namespace verdictd
