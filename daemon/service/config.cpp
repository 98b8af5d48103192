#include "service/config.hpp"

#include <fstream>
#include <sstream>

#include "ruleset/error.hpp"
#include "ruleset/json_position.hpp"
#include "ruleset/values.hpp"

namespace verdictd {

HookQueues Config::queues_of(Hook h) const {
  if (const auto& explicit_range = hook_queues[static_cast<std::size_t>(h)]) return *explicit_range;
  return {static_cast<std::uint16_t>(queue_base + static_cast<unsigned>(h) * queues_per_hook),
          queues_per_hook};
}

HookQueues parse_queue_range(const std::string& text) {
  const PortRange range = parse_u16_range(Json(text), "a queue number 0-65535 or \"first:last\"");
  return {range.low, static_cast<std::uint16_t>(range.high - range.low + 1)};
}

std::optional<SteeringBackend> steering_from_name(std::string_view name) {
  if (name == "legacy") return SteeringBackend::kLegacy;
  if (name == "nft") return SteeringBackend::kNft;
  return std::nullopt;
}

std::string_view steering_name(SteeringBackend backend) {
  return backend == SteeringBackend::kLegacy ? "legacy" : "nft";
}

namespace {

void apply_settings(Config& config, const Json& root) {
  expect_object_keys(root,
                     {"ruleset", "control_socket", "queue_base", "queues_per_hook", "hooks",
                      "fail_open", "queue_full", "queue_maxlen", "steering", "comment", "$schema"},
                     "a daemon setting");
  if (root.contains("ruleset")) {
    config.ruleset = expect_string(root["ruleset"], "a file name");
  }
  if (root.contains("control_socket")) {
    config.control_socket = expect_string(root["control_socket"], "a socket path");
  }
  auto number = [&](const char* key, std::uint64_t max, const char* what) {
    try {
      return parse_uint(root[key], max, what);
    } catch (FieldError& e) {
      e.pointer_suffix = std::string("/") + key + e.pointer_suffix;
      throw;
    }
  };
  if (root.contains("queue_base")) {
    config.queue_base = static_cast<std::uint16_t>(number("queue_base", 65535, "a queue number"));
  }
  if (root.contains("queues_per_hook")) {
    config.queues_per_hook =
        static_cast<std::uint16_t>(number("queues_per_hook", 64, "a count of queues 1-64"));
    if (config.queues_per_hook == 0) {
      throw FieldError("expected a count of queues 1-64, got 0", "/queues_per_hook");
    }
  }
  if (root.contains("queue_maxlen")) {
    config.queue_maxlen = number("queue_maxlen", 1U << 20, "a queue length");
  }
  if (root.contains("fail_open")) {
    if (!root["fail_open"].is_boolean()) throw FieldError("expected true or false", "/fail_open");
    config.fail_open = root["fail_open"].get<bool>();
  }
  if (root.contains("queue_full")) {
    const Json& v = root["queue_full"];
    if (v != "accept" && v != "drop") {
      throw FieldError("expected \"accept\" or \"drop\", got " + v.dump(), "/queue_full");
    }
    config.accept_when_queue_full = v == "accept";
  }
  if (root.contains("steering")) {
    const Json& v = root["steering"];
    auto backend = v.is_string() ? steering_from_name(v.get<std::string>()) : std::nullopt;
    if (!backend) throw FieldError("expected \"legacy\" or \"nft\", got " + v.dump(), "/steering");
    config.steering = *backend;
  }
  if (root.contains("hooks")) {
    const Json& hooks = root["hooks"];
    if (!hooks.is_object()) throw FieldError("expected an object of hooks", "/hooks");
    for (const auto& [name, body] : hooks.items()) {
      const std::string pointer = "/hooks/" + json_pointer_token(name);
      auto hook = hook_from_name(name);
      if (!hook) throw FieldError("unknown hook \"" + name + "\"", pointer);
      if (!body.is_object() || body.size() != 1 || !body.contains("queues")) {
        throw FieldError("expected {\"queues\": \"first:last\"}", pointer);
      }
      const Json& queues = body["queues"];
      try {
        config.hook_queues[static_cast<std::size_t>(*hook)] =
            parse_queue_range(queues.is_number() ? std::to_string(queues.get<std::uint64_t>())
                                                 : expect_string(queues, "a queue range"));
      } catch (FieldError& e) {
        e.pointer_suffix = pointer + "/queues";
        throw;
      }
    }
  }
}

}  // namespace

Config load_config(const std::string& path, bool required) {
  Config config;
  std::ifstream in(path);
  if (!in) {
    if (required) throw RulesetError(path, 0, 0, "", "cannot open the file");
    return config;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    const TextPosition pos = position_of_offset(text, e.byte > 0 ? e.byte - 1 : 0);
    throw RulesetError(path, pos.line, pos.column, "", "expected valid JSON");
  }
  try {
    if (!root.is_object()) throw FieldError("expected an object of settings");
    apply_settings(config, root);
  } catch (const FieldError& e) {
    const TextPosition pos = position_of_pointer(text, e.pointer_suffix);
    throw RulesetError(path, pos.line, pos.column, e.pointer_suffix, e.what());
  }
  return config;
}

}  // namespace verdictd
