// The daemon's life: load the ruleset, bind the queues, steer the hooks the
// ruleset uses, serve the control socket, reload on SIGHUP, stop on SIGTERM.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "queue/link_cache.hpp"
#include "queue/queue_worker.hpp"
#include "queue/steering.hpp"
#include "service/config.hpp"
#include "service/control_server.hpp"
#include "service/ruleset_holder.hpp"

namespace verdictd {

class Daemon {
 public:
  explicit Daemon(Config config);
  // Runs until SIGTERM or SIGINT; returns the process exit status.
  int run();

 private:
  void start_workers();
  void steer(const Ruleset& ruleset);
  // Returns the error that kept the old ruleset in force, or "".
  std::string reload();
  // Checks the workers; sends WATCHDOG=1 only while none is stalled.
  void supervise();
  nlohmann::ordered_json handle(const nlohmann::ordered_json& request);
  [[nodiscard]] std::string status_text() const;
  void shut_down();

  Config config_;
  std::unique_ptr<RulesetHolder> rulesets_;
  LinkCache links_;
  Steering steering_;
  HookMask steered_hooks_ = 0;
  std::vector<std::unique_ptr<QueueWorker>> workers_;
  std::unique_ptr<ControlServer> control_;
  std::mutex reload_mutex_;  // SIGHUP and `verdictctl reload` may race
  std::string outage_;       // the last stall reported, "" while healthy
};

}  // namespace verdictd
