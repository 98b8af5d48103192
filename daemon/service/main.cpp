// verdictd: iptables evaluated in userspace over NFQUEUE.
#include <CLI/CLI.hpp>
#include <iostream>

#include "ruleset/error.hpp"
#include "service/config.hpp"
#include "service/daemon.hpp"

int main(int argc, char** argv) {
  using verdictd::Config;
  CLI::App app{"verdictd: iptables rulesets evaluated in userspace over NFQUEUE"};
  std::string config_path = "/etc/verdictd/verdictd.json";
  std::optional<std::string> ruleset;
  std::optional<std::string> control_socket;
  std::optional<std::uint16_t> queue_base;
  std::optional<std::uint16_t> queues_per_hook;
  std::optional<std::uint32_t> queue_maxlen;
  std::optional<std::string> queue_full;
  std::optional<std::string> steering;
  bool fail_open = false;
  bool remove_steering = false;
  auto* config_option =
      app.add_option("--config", config_path, "daemon settings (JSON)")->capture_default_str();
  app.add_option("--ruleset", ruleset, "ruleset file (default /etc/verdictd/ruleset.json)");
  app.add_option("--control-socket", control_socket,
                 "control socket (default /run/verdictd/control.sock)");
  app.add_option("--queue-base", queue_base, "first NFQUEUE number (hook i uses base + i*per)");
  app.add_option("--queues-per-hook", queues_per_hook, "queues (and threads) per hook")
      ->check(CLI::Range(1, 64));
  app.add_option("--queue-maxlen", queue_maxlen, "kernel queue length");
  app.add_option("--queue-full", queue_full, "what the kernel does with a full queue")
      ->check(CLI::IsMember({"accept", "drop"}));
  app.add_option("--steering", steering, "iptables backend for the steering rules")
      ->check(CLI::IsMember({"legacy", "nft"}));
  app.add_flag("--fail-open", fail_open, "let packets pass while no verdictd listens");
  app.add_flag("--remove-steering", remove_steering,
               "remove the kernel rules an earlier verdictd left and exit");
  CLI11_PARSE(app, argc, argv);

  Config config;
  try {
    config = verdictd::load_config(config_path, config_option->count() > 0);
  } catch (const verdictd::RulesetError& e) {
    std::cerr << "verdictd: " << e.what() << "\n";
    return 1;
  }
  if (ruleset) config.ruleset = *ruleset;
  if (control_socket) config.control_socket = *control_socket;
  if (queue_base) config.queue_base = *queue_base;
  if (queues_per_hook) config.queues_per_hook = *queues_per_hook;
  if (queue_maxlen) config.queue_maxlen = *queue_maxlen;
  if (queue_full) config.accept_when_queue_full = *queue_full == "accept";
  if (steering) config.steering = *verdictd::steering_from_name(*steering);
  if (fail_open) config.fail_open = true;

  if (remove_steering) {
    try {
      verdictd::Steering(config.steering).remove();
    } catch (const std::exception& e) {
      std::cerr << "verdictd: " << e.what() << "\n";
      return 1;
    }
    return 0;
  }
  return verdictd::Daemon(config).run();
}
