// verdictd: iptables rulesets evaluated in userspace over NFQUEUE.
#include <CLI/CLI.hpp>
#include <iostream>

#include "service/config.hpp"
#include "service/daemon.hpp"

namespace {

constexpr int kUsageError = 2;

int run(int argc, char** argv) {
  CLI::App app{"verdictd: iptables rulesets evaluated in userspace over NFQUEUE"};
  app.set_version_flag("--version", std::string("verdictd ") + VERDICTD_VERSION);
  std::string config_path(verdictd::kDefaultConfigPath);
  verdictd::ConfigFlags flags;
  std::optional<std::string> queue_full;
  std::optional<std::string> steering;
  std::optional<std::string> closed_hooks;
  bool remove_steering = false;
  auto* config_option =
      app.add_option("--config", config_path, "daemon settings (JSON)")->capture_default_str();
  app.add_option("--ruleset", flags.ruleset, "ruleset file (default /etc/verdictd/ruleset.json)");
  app.add_option("--ruleset-max-bytes", flags.ruleset_max_bytes,
                 "largest ruleset file loaded (default " +
                     std::to_string(verdictd::kDefaultRulesetMaxBytes) + ")")
      ->check(CLI::Range(std::uint32_t{1}, verdictd::kMaxRulesetMaxBytes));
  app.add_option("--queue-base", flags.queue_base,
                 "first NFQUEUE number; hook i uses base + i*per (default 0)");
  app.add_option("--queues-per-hook", flags.queues_per_hook,
                 "queues (one thread each) per hook (default 1)")
      ->check(CLI::Range(1, static_cast<int>(verdictd::kMaxQueuesPerHook)));
  app.add_option("--queue-maxlen", flags.queue_maxlen, "kernel queue length (default 4096)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--queue-wait", flags.queue_wait,
                 "seconds to wait for queues another process still holds (default 5)")
      ->check(CLI::Range(0, static_cast<int>(verdictd::kMaxQueueWait)));
  app.add_option("--queue-full", queue_full, "what the kernel does with a full queue")
      ->check(CLI::IsMember({"accept", "drop"}));
  app.add_option("--steering", steering, "iptables backend of the steering rules")
      ->check(CLI::IsMember({"legacy", "nft"}));
  app.add_option("--conntrack-max", flags.conntrack_max,
                 "most connections the flow table holds (default 262144)")
      ->check(CLI::Range(1, 1 << 26));
  app.add_option("--control-socket", flags.control_socket,
                 "control socket (default /run/verdictd/control.sock)");
  app.add_option("--runtime-directory", flags.runtime_directory,
                 "where the NAT binding store lives (default /run/verdictd)");
  app.add_option("--last-good", flags.last_good,
                 "where the last ruleset that loaded is kept, enforced when the ruleset is "
                 "missing or bad at start (default /var/lib/verdictd/last-good.json)");
  app.add_option("--closed-hooks", closed_hooks,
                 "hooks that drop every packet while no ruleset could be loaded "
                 "(default PREROUTING,INPUT,FORWARD,OUTPUT,POSTROUTING)")
      ->check([](const std::string& names) {
        return verdictd::hooks_from_list(names) ? std::string()
                                                : "expected hook names separated by commas";
      });
  app.add_flag("--fail-open", flags.fail_open, "let packets pass while no verdictd listens");
  app.add_flag("--debug", flags.debug, "log debug lines (conntrack divergences)");
  app.add_flag("--remove-steering", remove_steering,
               "remove the steering rules an earlier verdictd left, and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsageError;
  }
  if (queue_full) flags.accept_when_queue_full = *queue_full == "accept";
  if (steering) flags.steering = verdictd::steering_from_name(*steering);
  if (closed_hooks) flags.closed_hooks = verdictd::hooks_from_list(*closed_hooks);

  verdictd::Config config;
  try {
    config = verdictd::resolve_config(config_path, config_option->count() > 0, flags);
  } catch (const std::exception& e) {
    std::cerr << "verdictd: " << e.what() << "\n";
    return 1;
  }
  if (remove_steering) {
    try {
      verdictd::Steering(config.steering).remove();
    } catch (const std::exception& e) {
      std::cerr << "verdictd: " << e.what() << "\n";
      return 1;
    }
    return 0;
  }
  return verdictd::Daemon(std::move(config)).run();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "verdictd: " << e.what() << "\n";
    return 1;
  }
}
