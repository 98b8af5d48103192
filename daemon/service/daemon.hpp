// The daemon's life: load the ruleset, bind the queues, serve the control
// socket, steer the hooks the ruleset uses, reload on SIGHUP, watch the
// workers, and on SIGTERM leave the steering closed (or removed) and stop.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conntrack/expectations.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/tracker.hpp"
#include "kernel/address_cache.hpp"
#include "kernel/link_cache.hpp"
#include "kernel/mirror.hpp"
#include "kernel/queue_worker.hpp"
#include "kernel/reply_sender.hpp"
#include "kernel/route_cache.hpp"
#include "kernel/steering.hpp"
#include "kernel/steering_watch.hpp"
#include "nat/nat_binder.hpp"
#include "service/binding_store.hpp"
#include "service/config.hpp"
#include "service/control_server.hpp"
#include "service/drop_log.hpp"
#include "service/journal_logger.hpp"
#include "service/ruleset_holder.hpp"
#include "service/status.hpp"
#include "service/trace_hub.hpp"

namespace verdictd {

class SignalReader;

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  Daemon(Daemon&&) = delete;
  Daemon& operator=(Daemon&&) = delete;

  // Runs until SIGTERM or SIGINT; returns the process exit status.
  int run();

 private:
  // The configured ruleset, else the last good one, else none (an empty
  // ruleset, with fallback_ saying which hooks are closed or that all are open).
  std::shared_ptr<Ruleset> initial_ruleset();
  // Keeps the bytes of a ruleset that loaded as the last good one; a failure is logged.
  void keep_last_good(const std::string& text) const;
  // Everything up to READY=1; throws std::runtime_error with one line.
  void start();
  // The NAT binding store in the runtime directory; without one (logged),
  // bindings do not survive a restart.
  void open_binding_store();
  // Gives the flows adopted from the kernel the bindings the previous run stored.
  void restore_bindings();
  void serve(SignalReader& signals);
  // Undoes what start() did; false when the steering could not be changed.
  bool stop();
  // The hooks it uses, and those tracking needs besides (tracking_points.hpp).
  static FamilyHooks hooks_to_steer(const Ruleset& ruleset);
  void steer(const Ruleset& ruleset);
  // The closed_hooks setting's hooks drop every packet (no usable ruleset).
  void close_hooks();
  // Restores the steering whenever something else changed it, until stop().
  void watch_steering();
  // Returns the error that kept the old ruleset in force, or "". `progress`
  // hears its stages, for `verdictctl reload`.
  std::string reload(RequestProgress& progress);
  // The same with reload_mutex_ held; `document`, when given, is loaded in
  // place of the file (an iptables command's change).
  std::string reload_locked(RequestProgress& progress, const std::optional<std::string>& document);
  // iptables-verdictd's requests: one at a time, each change one reload.
  nlohmann::ordered_json iptables(const nlohmann::ordered_json& request, RequestProgress& progress);
  // SIGHUP's reload, on a thread of its own: the main thread goes on
  // supervising and pinging the watchdog while a big ruleset loads. A SIGHUP
  // during that reload asks for one more after it (the file may have changed
  // since it was read); more SIGHUPs meanwhile ask for that same one.
  void reload_on_signal();
  // The first stalled queue, "queue 2 (FORWARD) stalled[: why]"; "" when none is.
  [[nodiscard]] std::string outage(std::chrono::steady_clock::time_point now) const;
  // Reports a change of health in STATUS=; sends WATCHDOG=1 only while no queue is stalled.
  void supervise();
  [[nodiscard]] StatusReport report() const;
  nlohmann::ordered_json handle(const nlohmann::ordered_json& request, RequestProgress& progress);
  // Streams the traces of the packets the request's filter selects (or that
  // TRACE rules mark) until the client goes, the count is reached, or the
  // daemon stops.
  nlohmann::ordered_json trace(const nlohmann::ordered_json& request, RequestProgress& progress);
  [[nodiscard]] nlohmann::ordered_json list(const nlohmann::ordered_json& request) const;
  [[nodiscard]] nlohmann::ordered_json conntrack(const nlohmann::ordered_json& request) const;

  Config config_;
  std::unique_ptr<RulesetHolder> rulesets_;
  LinkCache links_;
  // Before flows_, so it outlives the table that writes to it.
  std::unique_ptr<BindingStore> bindings_;
  std::size_t restored_bindings_ = 0;
  std::unique_ptr<FlowTable> flows_;
  Expectations expectations_;
  std::unique_ptr<ConntrackMirror> mirror_;
  std::unique_ptr<Tracker> tracker_;
  AddressCache addresses_;
  RouteCache routes_;  // for addrtype and rpfilter
  std::unique_ptr<NatBinder> nat_;
  std::unique_ptr<ReplySender> replies_;  // REJECT's answers; null when it cannot send
  Steering steering_;
  bool steering_changed_ = false;  // by this run: stop() must close or remove it
  std::atomic<FamilyHooks> steered_hooks_{};
  FamilyMask kernel_tracking_ = 0;  // families the steering turns the kernel's conntrack on for
  std::unique_ptr<SteeringWatch> steering_watch_;
  std::jthread steering_watcher_;
  std::atomic<std::uint64_t> steering_repairs_{0};
  // Before workers_, so that they outlive the packet paths that write to them.
  std::unique_ptr<JournalLogger> logger_;
  TraceHub traces_;
  DropLog drops_;
  std::vector<std::unique_ptr<QueueWorker>> workers_;
  std::unique_ptr<ControlServer> control_;
  // Lock order: daemon/LOCKING.md.
  std::mutex reload_mutex_;  // SIGHUP, `verdictctl reload` and iptables commands may race
  // The text of the ruleset in force ("" for none), which iptables commands
  // change; guarded by reload_mutex_.
  std::string document_;
  std::mutex signalled_reload_mutex_;
  bool signalled_reload_wanted_ = false;   // a SIGHUP not yet acted on
  bool signalled_reload_running_ = false;  // signalled_reload_ runs or is ending
  mutable std::mutex fallback_mutex_;      // status reads it while a reload clears it
  FallbackReport fallback_;
  bool watchdog_ = false;  // systemd asked for WATCHDOG=1
  std::mutex health_mutex_;
  std::string outage_;         // as last reported in STATUS=, "" while healthy
  std::string normal_status_;  // the STATUS= line to show while healthy
  // Last, so that it is joined before anything its reload uses is destroyed.
  std::jthread signalled_reload_;
};

}  // namespace verdictd
