#include "service/daemon.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "conntrack/flow_listing.hpp"
#include "conntrack/tracking_points.hpp"
#include "extension/error.hpp"
#include "kernel/conntrack_questions.hpp"
#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "service/iptables_command.hpp"
#include "service/last_good.hpp"
#include "service/log.hpp"
#include "service/notify.hpp"
#include "service/packet_path.hpp"
#include "service/private_directory.hpp"
#include "service/recent_command.hpp"
#include "service/set_command.hpp"
#include "service/signals.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// A worker holding a packet this long is stuck; the kernel would hold its
// queue forever, so the watchdog stops and systemd restarts us.
constexpr std::chrono::seconds kStallLimit{5};
// LOG lines waiting for the journal; more are lost and counted.
constexpr std::size_t kLogQueueLines = 4096;
constexpr std::chrono::milliseconds kSupervisePeriod{1000};
// How often a queue another process holds is tried again: soon at first, as a
// stopping verdictd releases its queues within milliseconds.
constexpr std::chrono::milliseconds kFirstBindRetry{5};
constexpr std::chrono::milliseconds kLongestBindRetry{100};
// How often the legacy tables are read to notice steering flushed or deleted
// behind our back (nft announces changes at once); a read costs microseconds.
constexpr std::chrono::milliseconds kSteeringCheckPeriod{100};
// How long a connection's first packet may wait for the conntrack events
// already sent (a helper's expectation of it): the reader's thread reads
// within microseconds unless the machine is busy or a dump is running.
constexpr std::chrono::microseconds kExpectationEventWait{2000};

// Starts `worker`. While another process holds its queue (a verdictd that is
// stopping answers what its queues hold before it releases them), tries again
// until `deadline`, which the first queue found in use sets to `wait` from then.
void start_when_free(QueueWorker& worker, std::chrono::seconds wait,
                     std::optional<std::chrono::steady_clock::time_point>& deadline) {
  std::chrono::milliseconds pause = kFirstBindRetry;
  while (true) {
    try {
      worker.start();
      return;
    } catch (const QueueInUse&) {
      const auto now = std::chrono::steady_clock::now();
      if (!deadline) {
        deadline = now + wait;
        if (wait.count() > 0) {
          log_info("queue " + std::to_string(worker.queue_number()) + " is in use; waiting up to " +
                   std::to_string(wait.count()) + " s for it to be released");
        }
      }
      if (now >= *deadline) throw;
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(pause, *deadline - now));
      pause = std::min(pause * 2, kLongestBindRetry);
    }
  }
}

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)), steering_(config_.steering) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  rulesets_ = std::make_unique<RulesetHolder>(initial_ruleset());
  try {
    SignalReader signals;  // before any thread starts
    try {
      start();
    } catch (const std::exception& e) {
      log_info(e.what());
      stop();
      return 1;
    }
    serve(signals);
  } catch (const std::exception& e) {
    log_info(e.what());
    return 1;
  }
  notify::stopping();
  log_info("stopping");
  if (!stop()) return 1;
  log_info(config_.fail_open
               ? "stopped; steering removed"
               : "stopped; steering closed: the steered hooks drop packets until verdictd "
                 "runs again or `verdictd --remove-steering` removes it");
  return 0;
}

void Daemon::open_binding_store() {
  const std::filesystem::path directory(config_.runtime_directory);
  const std::string path = (directory / "nat-bindings").string();
  try {
    make_private_directory(directory);
    bindings_ = std::make_unique<BindingStore>(path, config_.conntrack_max);
  } catch (const std::exception& e) {
    // Without a store NAT still never leaks: after a restart the connections
    // the rules would bind are dropped as unknown.
    log_warning(std::string("NAT bindings will not survive a restart: ") + e.what());
    return;
  }
  flows_->set_journal(bindings_.get());
}

void Daemon::restore_bindings() {
  if (!bindings_) return;
  const auto now = ConntrackClock::now();
  for (const Flow& binding : bindings_->previous()) {
    if (flows_->restore_binding(binding, now)) ++restored_bindings_;
  }
  try {
    bindings_->commit();
  } catch (const std::exception& e) {
    log_warning(std::string("NAT bindings will not survive a restart: ") + e.what());
  }
  if (!bindings_->previous().empty()) {
    log_info("restored " + std::to_string(restored_bindings_) + " of " +
             std::to_string(bindings_->previous().size()) +
             " stored NAT bindings (the others' connections are gone)");
  }
}

std::shared_ptr<Ruleset> Daemon::initial_ruleset() {
  try {
    const JsonDocument document = read_ruleset_document(config_.ruleset, config_.ruleset_max_bytes);
    std::shared_ptr<Ruleset> ruleset = load_ruleset_document(document);
    keep_last_good(document.text());
    document_ = document.text();
    return ruleset;
  } catch (const std::exception& e) {
    fallback_.error = e.what();  // FILE:LINE:COL: /pointer: expected ...
  }
  log_error("cannot load the ruleset: " + fallback_.error);
  try {
    if (const auto copy = read_last_good(config_.last_good)) {
      std::shared_ptr<Ruleset> ruleset =
          load_ruleset_text(copy->text, last_good_name(config_.last_good, *copy));
      fallback_.kind = Fallback::kLastGood;
      fallback_.saved = copy->saved;
      document_ = copy->text;
      log_error("enforcing the LAST-GOOD ruleset " + ruleset->source + ", loaded " + copy->saved +
                ", until a good ruleset is reloaded");
      return ruleset;
    }
    fallback_.last_good = "no last-good ruleset in " + config_.last_good;
  } catch (const std::exception& e) {
    fallback_.last_good = std::string("the last-good ruleset is unusable: ") + e.what();
  }
  log_error(fallback_.last_good);
  auto none = std::make_shared<Ruleset>();
  none->source = "none";
  if (config_.fail_open) {
    fallback_.kind = Fallback::kOpen;
    log_error(
        "fail-open: nothing is steered, every packet passes until a good ruleset is "
        "reloaded");
  } else {
    fallback_.kind = Fallback::kClosed;
    fallback_.closed_hooks = config_.closed_hooks;
    log_error("CLOSED: hooks " + hooks_text(config_.closed_hooks) +
              " drop every packet until a good ruleset is reloaded");
  }
  return none;
}

void Daemon::keep_last_good(const std::string& text) const {
  try {
    write_file_atomically(
        config_.last_good,
        last_good_envelope({.source = config_.ruleset,
                            .saved = utc_time_text(std::chrono::system_clock::now()),
                            .text = text}));
  } catch (const std::exception& e) {
    log_warning(std::string("cannot keep the last good ruleset: ") + e.what());
  }
}

void Daemon::start() {
  links_.start();
  // The mirror first: flows the kernel already tracks are in our table before
  // the first packet is judged, so they stay ESTABLISHED across a restart.
  // Then the NAT bindings a previous run stored are given back to them, before
  // any queue opens: the first packet after a restart finds its binding.
  flows_ = std::make_unique<FlowTable>(config_.conntrack_max);
  open_binding_store();
  mirror_ = std::make_unique<ConntrackMirror>(*flows_, expectations_, config_.debug);
  mirror_->start();
  restore_bindings();
  tracker_ = std::make_unique<Tracker>(*flows_, expectations_, [mirror = mirror_.get()] {
    return mirror->await_events(kExpectationEventWait);
  });
  // MASQUERADE forgets its connections when their interface or address goes.
  addresses_.on_address_removed([this](std::uint32_t ifindex, const IpAddress& address) {
    flows_->forget_masqueraded(ifindex, address);
  });
  addresses_.on_interface_down(
      [this](std::uint32_t ifindex) { flows_->forget_masqueraded(ifindex, std::nullopt); });
  addresses_.start();
  routes_.start();
  nat_ = std::make_unique<NatBinder>(
      *flows_, InterfaceAddresses{.masquerade =
                                      [this](std::uint32_t ifindex, const IpAddress& destination) {
                                        return addresses_.masquerade_address(
                                            ifindex, destination.family, destination);
                                      },
                                  .redirect =
                                      [this](std::uint32_t ifindex, const IpAddress& destination) {
                                        return addresses_.redirect_address(
                                            ifindex, destination.family, destination);
                                      }});
  logger_ = std::make_unique<JournalLogger>(kLogQueueLines);
  const ConntrackParts conntrack{.flows = flows_.get(),
                                 .tracker = tracker_.get(),
                                 .mirror = mirror_.get(),
                                 .nat = nat_.get(),
                                 .untracked_mark = config_.untracked_mark,
                                 .steered_hooks = &steered_hooks_};
  try {
    replies_ = std::make_unique<ReplySender>();
  } catch (const std::system_error& e) {
    log_error(std::string(e.what()) + "; REJECT drops without answering");
  }
  std::optional<std::chrono::steady_clock::time_point> queue_deadline;
  for (Hook hook : kAllHooks) {
    const HookQueues queues = config_.queues_of(hook);
    for (std::uint16_t i = 0; i < queues.count; ++i) {
      QueueOptions options;
      options.queue_number = static_cast<std::uint16_t>(queues.first + i);
      options.max_length = config_.queue_maxlen;
      options.accept_when_full = config_.accept_when_queue_full;
      workers_.push_back(std::make_unique<QueueWorker>(
          options, hook,
          PacketPath::handler(std::make_shared<PacketPath>(*rulesets_, links_, addresses_, hook,
                                                           conntrack, replies_.get(), logger_.get(),
                                                           &traces_, &drops_, &routes_)),
          std::make_unique<ConntrackQuestions>(*mirror_)));
      start_when_free(*workers_.back(), std::chrono::seconds(config_.queue_wait), queue_deadline);
    }
  }
  control_ = std::make_unique<ControlServer>(
      config_.control_socket,
      [this](const Json& request, RequestProgress& progress) { return handle(request, progress); });
  control_->start();
  // Steering last: until now nothing was changed in the kernel's tables, so
  // a failure above leaves another instance's or a crashed run's steering be.
  const std::lock_guard lock(reload_mutex_);
  if (fallback_.kind == Fallback::kClosed) {
    close_hooks();
  } else {
    steer(*rulesets_->snapshot());
  }
  try {
    steering_watch_ = std::make_unique<SteeringWatch>(config_.steering, kSteeringCheckPeriod);
    steering_watcher_ = std::jthread([this] { watch_steering(); });
  } catch (const std::exception& e) {
    log_error(std::string("cannot watch the steering; a flush would go unnoticed: ") + e.what());
  }
}

void Daemon::close_hooks() {
  SteeringPlan plan;
  for (Family f : kAllFamilies) plan.hooks[f] = config_.closed_hooks;
  plan.drop = true;
  steering_changed_ = true;
  steering_.apply(plan);
  steered_hooks_ = plan.hooks;  // stop() keeps them closed
  kernel_tracking_ = 0;
}

void Daemon::watch_steering() {
  while (const FamilyMask changed = steering_watch_->wait_for_change()) {
    const auto noticed = std::chrono::steady_clock::now();
    std::string wrong;
    try {
      const std::lock_guard lock(reload_mutex_);
      wrong = steering_.repair(changed);
    } catch (const std::exception& e) {
      log_error(std::string("cannot check or restore the steering: ") + e.what());
      steering_watch_->again();
      continue;
    }
    if (wrong.empty()) continue;
    const std::uint64_t repairs = ++steering_repairs_;
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - noticed);
    log_error("the steering was changed behind verdictd's back (" + wrong + "); restored in " +
              std::to_string(took.count()) + " ms (" + std::to_string(repairs) +
              (repairs == 1 ? " repair)" : " repairs)"));
  }
}

FamilyHooks Daemon::hooks_to_steer(const Ruleset& ruleset) {
  FamilyHooks hooks = ruleset.used_hooks;
  for (Family f : kAllFamilies) {
    if (ruleset.tracks(f)) hooks[f] = hooks_for_tracking(hooks[f]);
  }
  return hooks;
}

void Daemon::steer(const Ruleset& ruleset) {
  const FamilyHooks hooks = hooks_to_steer(ruleset);
  SteeringPlan plan;
  plan.hooks = hooks;
  plan.fail_open = config_.fail_open;
  plan.untracked_mark = config_.untracked_mark;
  plan.kernel_tracking = ruleset.tracked_families;
  for (Hook h : kAllHooks) plan.queues[static_cast<std::size_t>(h)] = config_.queues_of(h);
  steering_changed_ = true;  // even a failed transaction may have changed one family
  steering_.apply(plan);
  steered_hooks_ = hooks;
  kernel_tracking_ = ruleset.tracked_families;
}

void Daemon::serve(SignalReader& signals) {
  const auto interval = notify::watchdog_interval();
  watchdog_ = interval.has_value();
  const auto period =
      interval ? std::min(kSupervisePeriod,
                          std::chrono::duration_cast<std::chrono::milliseconds>(*interval / 2))
               : kSupervisePeriod;
  const std::string running = running_line(report());
  {
    const std::lock_guard lock(health_mutex_);
    normal_status_ = running;
  }
  notify::ready(running);
  if (report().fallback.kind == Fallback::kNone) {
    log_info(running);
  } else {
    log_error(running);
  }
  supervise();
  while (true) {
    const int received = signals.wait(period);
    if (received == SIGTERM || received == SIGINT) return;
    if (received == SIGHUP) reload_on_signal();
    supervise();
  }
}

bool Daemon::stop() {
  if (steering_watch_) {
    steering_watch_->stop();  // nothing restores the steering from here on
    if (steering_watcher_.joinable()) steering_watcher_.join();
  }
  // No reload may change the steering from here on; one under way ends first.
  if (control_) control_->stop();
  if (signalled_reload_.joinable()) signalled_reload_.join();
  bool clean = true;
  if (steering_changed_) {
    // Change the steering first so nothing new is queued, then answer what is:
    // once it returns, every queued packet is in a worker's socket.
    try {
      if (config_.fail_open) {
        steering_.remove();
      } else {
        steering_.close(steered_hooks_);
      }
    } catch (const std::exception& e) {
      log_info(std::string("cannot ") + (config_.fail_open ? "remove" : "close") +
               " the steering: " + e.what());
      clean = false;
    }
  }
  {
    // Each worker answers what its socket holds and releases its queue; together.
    std::vector<std::jthread> stopping;
    for (auto& worker : workers_) stopping.emplace_back([&worker] { worker->stop(); });
  }
  if (mirror_) mirror_->stop();
  routes_.stop();
  addresses_.stop();
  links_.stop();
  return clean;
}

std::string Daemon::reload(RequestProgress& progress) {
  // A second reload waits for the first, then loads the file as it is then.
  std::unique_lock lock(reload_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    progress.set("waiting for the reload in progress to finish");
    lock.lock();
  }
  return reload_locked(progress, std::nullopt);
}

std::string Daemon::reload_locked(RequestProgress& progress,
                                  const std::optional<std::string>& document) {
  // An iptables command's change is no reload of the service: only its
  // STATUS= line changes.
  if (!document) notify::reloading();
  bool falling_back = false;
  {
    const std::lock_guard lock_fallback(fallback_mutex_);
    falling_back = fallback_.kind != Fallback::kNone;
  }
  std::string error = rulesets_->reload(
      [&] {
        if (document) {
          progress.set("checking the changed ruleset");
          return JsonDocument(*document, "(changed at runtime) " + config_.ruleset);
        }
        progress.set("loading " + config_.ruleset + " (reading, parsing, checking)");
        return read_ruleset_document(config_.ruleset, config_.ruleset_max_bytes);
      },
      [&](const Ruleset& next) {
        // The closed hooks' chains drop: a good ruleset always steers anew.
        if (falling_back || hooks_to_steer(next) != steered_hooks_ ||
            next.tracked_families != kernel_tracking_) {
          progress.set("changing the steering");
          steer(next);
        }
      },
      [this](const std::string& text) {
        {
          const std::lock_guard lock_fallback(fallback_mutex_);
          fallback_ = {};
        }
        keep_last_good(text);
        document_ = text;
      },
      [&](std::string stage) { progress.set(std::move(stage)); });
  const std::string status = error.empty() ? running_line(report())
                                           : "reload failed: " + error + "; " +
                                                 (falling_back ? running_line(report())
                                                               : "previous ruleset still in force");
  std::string shown;
  {
    const std::lock_guard health(health_mutex_);
    normal_status_ = status;
    shown = outage_.empty() ? status : outage_;  // an outage keeps its STATUS= line
  }
  if (document) {
    notify::status(shown);
  } else {
    notify::ready(shown);  // READY=1 ends the reload either way
  }
  log_info(error.empty() ? (document ? "changed by an iptables command: " : "reloaded: ") + status
                         : status);
  return error;
}

void Daemon::reload_on_signal() {
  {
    const std::lock_guard lock(signalled_reload_mutex_);
    signalled_reload_wanted_ = true;
    if (signalled_reload_running_) return;  // it will see the wish before it ends
    signalled_reload_running_ = true;
  }
  // Assigning joins the previous thread, which has ended or is about to.
  signalled_reload_ = std::jthread([this] {
    while (true) {
      {
        const std::lock_guard lock(signalled_reload_mutex_);
        if (!signalled_reload_wanted_) {
          signalled_reload_running_ = false;
          return;
        }
        signalled_reload_wanted_ = false;
      }
      RequestProgress unwatched;
      reload(unwatched);
    }
  });
}

std::string Daemon::outage(std::chrono::steady_clock::time_point now) const {
  for (const auto& worker : workers_) {
    if (!worker->stalled(now, kStallLimit)) continue;
    const std::string failure = worker->failure();
    return "queue " + std::to_string(worker->queue_number()) + " (" +
           std::string(hook_name(worker->hook())) + ") stalled" +
           (failure.empty() ? "" : ": " + failure);
  }
  return {};
}

void Daemon::supervise() {
  const std::string current = outage(std::chrono::steady_clock::now());
  std::string status;
  {
    const std::lock_guard lock(health_mutex_);
    if (current != outage_) status = current.empty() ? normal_status_ : current;
    outage_ = current;
  }
  if (!status.empty()) {
    notify::status(status);
    log_info(current.empty() ? "queues healthy again" : current + "; watchdog pings stop");
  }
  if (watchdog_ && current.empty()) notify::watchdog();
}

StatusReport Daemon::report() const {
  const auto now = std::chrono::steady_clock::now();
  StatusReport report;
  const auto ruleset = rulesets_->snapshot();
  report.ruleset = ruleset->source;
  {
    const std::lock_guard lock(fallback_mutex_);
    report.fallback = fallback_;
  }
  report.rules = rule_count(*ruleset);
  report.last_reload = rulesets_->last_reload();
  report.steering = config_.steering;
  report.fail_open = config_.fail_open;
  report.steered_hooks = steered_hooks_;
  report.steering_repairs = steering_repairs_;
  report.outage = outage(now);
  if (flows_) report.flows = flows_->stats();
  if (mirror_) report.mirror = mirror_->stats();
  if (nat_) report.nat = nat_->stats();
  if (bindings_) report.stored_bindings = bindings_->used();
  if (logger_) report.log = logger_->stats();
  report.restored_bindings = restored_bindings_;
  for (const auto& worker : workers_) {
    report.queues.push_back({worker->queue_number(), worker->hook(), worker->stats(),
                             worker->stalled(now, kStallLimit)});
  }
  return report;
}

Json Daemon::handle(const Json& request, RequestProgress& progress) {
  const std::string command = request.value("command", "");
  if (command == "status") return {{"ok", true}, {"text", status_text(report())}};
  if (command == "list") return list(request);
  if (command == "conntrack") return conntrack(request);
  if (command == "trace") return trace(request, progress);
  if (command == "drops") {
    const std::size_t count = request.value("count", std::size_t{50});
    return {{"ok", true}, {"drops", drops_.last(count)}, {"recorded", drops_.recorded()}};
  }
  if (command == "recent") return recent_command(*rulesets_->in_force()->state, request);
  if (command == "set") return set_command(*rulesets_->in_force(), request);
  if (command == "zero") {
    rulesets_->in_force()->state->zero_counters();
    return {{"ok", true}, {"text", ""}};
  }
  if (command == "iptables" || command == "iptables-restore") return iptables(request, progress);
  if (command == "iptables-save") return run_iptables_save(*rulesets_->in_force(), request);
  if (command == "save") {
    const std::lock_guard lock(reload_mutex_);
    return {{"ok", true}, {"text", document_}};
  }
  if (command == "reload") {
    if (const std::string error = reload(progress); !error.empty()) {
      return {{"ok", false}, {"error", error}};
    }
    const auto ruleset = rulesets_->snapshot();
    return {{"ok", true},
            {"text", "reloaded " + ruleset->source + " (" + std::to_string(rule_count(*ruleset)) +
                         " rules)\n"}};
  }
  return {{"ok", false}, {"error", "unknown command " + Json(command).dump()}};
}

Json Daemon::iptables(const Json& request, RequestProgress& progress) {
  // As the xtables lock: callers wait their turn, and each reads the ruleset
  // the one before left.
  const std::lock_guard lock(reload_mutex_);
  std::optional<IptablesOutcome> outcome;
  try {
    const auto in_force = rulesets_->in_force();
    outcome.emplace(request.value("command", "") == "iptables"
                        ? run_iptables(*in_force, document_, request)
                        : run_iptables_restore(*in_force, document_, request));
  } catch (const std::exception& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
  if (outcome->next_document) {
    if (const std::string error = reload_locked(progress, outcome->next_document); !error.empty()) {
      return {{"ok", true},
              {"status", 1},
              {"stdout", ""},
              {"stderr",
               "verdictd refused the change, and keeps the ruleset in force: " + error + "\n"}};
    }
  }
  return outcome->response;
}

Json Daemon::trace(const Json& request, RequestProgress& progress) {
  std::shared_ptr<const TraceSelector> selector;
  if (request.contains("filter")) {
    try {
      selector = std::make_shared<TraceSelector>(request["filter"]);
    } catch (const FieldError& e) {
      return {{"ok", false},
              {"error", "trace filter" + (e.pointer_suffix.empty() ? "" : " " + e.pointer_suffix) +
                            ": " + e.what()}};
    }
  }
  // 0: until the client goes.
  const std::uint64_t count = request.value("count", std::uint64_t{0});
  std::shared_ptr<TraceFollower> follower;
  try {
    follower = traces_.follow(selector);
  } catch (const std::runtime_error& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
  progress.set("tracing");
  // Tells the client the trace is in place: packets from now on are followed.
  progress.send({{"following", selector ? "the filter's packets" : "packets TRACE rules mark"}});
  std::uint64_t sent = 0;
  constexpr std::chrono::milliseconds kWait{200};
  while (!progress.ended() && (count == 0 || sent < count)) {
    for (const std::string& record : follower->take(kWait)) {
      if (!progress.send_text(R"({"trace":)" + record + "}") || ++sent == count) break;
    }
  }
  const std::uint64_t lost = follower->lost();
  traces_.unfollow(follower);
  return {{"ok", true}, {"text", ""}, {"traced", sent}, {"lost", lost}};
}

Json Daemon::list(const Json& request) const {
  ListOptions options;
  const std::string table = request.value("table", "filter");
  const auto id = table_from_name(table);
  if (!id) return {{"ok", false}, {"error", "no table named " + Json(table).dump()}};
  options.table = *id;
  if (const auto chain = request.find("chain"); chain != request.end() && chain->is_string()) {
    options.chain = chain->get<std::string>();
  }
  options.verbose = request.value("verbose", false);
  options.line_numbers = request.value("line_numbers", false);
  options.exact = request.value("exact", false);
  if (const int family = request.value("family", 0); family == 4) {
    options.family = Family::kIPv4;
  } else if (family == 6) {
    options.family = Family::kIPv6;
  }
  try {
    const auto in_force = rulesets_->in_force();
    return {{"ok", true}, {"text", list_table(*in_force->ruleset, *in_force->state, options)}};
  } catch (const std::invalid_argument& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
}

Json Daemon::conntrack(const Json& request) const {
  try {
    const FlowFilter filter = FlowFilter::from_request(request);
    const auto now = ConntrackClock::now();
    std::string text;
    std::size_t shown = 0;
    for (const Flow& flow : flows_->flows(now)) {
      if (!filter.accepts(flow)) continue;
      text += flow_line(flow, now) + "\n";
      ++shown;
    }
    return {{"ok", true},
            {"text", text},
            {"note", "verdictctl conntrack: " + std::to_string(shown) +
                         " flow entries have been shown.\n"}};
  } catch (const std::invalid_argument& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
}

}  // namespace verdictd
