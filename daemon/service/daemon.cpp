#include "service/daemon.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "service/notify.hpp"
#include "service/packet_path.hpp"

namespace verdictd {

namespace {

// A worker holding a packet this long is stuck; the kernel would hold its
// queue forever, so systemd should restart us.
constexpr std::chrono::seconds kStallLimit{5};

std::string hooks_text(HookMask hooks) {
  std::string text;
  for (Hook h : kAllHooks) {
    if ((hooks & hook_bit(h)) != 0) text += (text.empty() ? "" : " ") + std::string(hook_name(h));
  }
  return text.empty() ? "none" : text;
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text += std::string(width - text.size(), ' ');
  return text;
}

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)), steering_(config_.steering) {}

void Daemon::start_workers() {
  for (Hook hook : kAllHooks) {
    const HookQueues queues = config_.queues_of(hook);
    for (std::uint16_t i = 0; i < queues.count; ++i) {
      QueueOptions options;
      options.queue_number = static_cast<std::uint16_t>(queues.first + i);
      options.max_length = config_.queue_maxlen;
      options.accept_when_full = config_.accept_when_queue_full;
      auto handler = [this, hook](const QueuedPacket& packet) {
        return decide(*rulesets_, links_, hook, packet);
      };
      workers_.push_back(std::make_unique<QueueWorker>(options, hook, handler));
      workers_.back()->start();
    }
  }
}

void Daemon::steer(const Ruleset& ruleset) {
  SteeringPlan plan;
  plan.hooks = ruleset.used_hooks;
  plan.fail_open = config_.fail_open;
  for (Hook h : kAllHooks) plan.queues[static_cast<std::size_t>(h)] = config_.queues_of(h);
  steering_.apply(plan);
  steered_hooks_ = plan.hooks;
}

int Daemon::run() {
  std::shared_ptr<Ruleset> initial;
  try {
    initial = load_ruleset_file(config_.ruleset);
  } catch (const RulesetError& e) {
    std::cerr << "verdictd: " << e.what() << "\n";
    return 1;
  }
  rulesets_ = std::make_unique<RulesetHolder>(initial);

  // Signals are read from a signalfd in this thread; every thread started
  // from here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);

  try {
    links_.start();
    start_workers();
    steer(*initial);
    control_ = std::make_unique<ControlServer>(
        config_.control_socket, [this](const nlohmann::ordered_json& r) { return handle(r); });
    control_->start();
  } catch (const std::exception& e) {
    std::cerr << "verdictd: " << e.what() << "\n";
    shut_down();
    return 1;
  }
  notify::ready("running; ruleset " + config_.ruleset + " (" +
                std::to_string(rule_count(*initial)) + " rules); steering " +
                hooks_text(steered_hooks_));
  std::cerr << "verdictd: running with " << config_.ruleset << ", steering "
            << hooks_text(steered_hooks_) << "\n";

  const auto interval = notify::watchdog_interval();
  const int tick_ms =
      interval ? static_cast<int>(std::max<std::int64_t>(100, interval->count() / 2000)) : 1000;
  bool running = true;
  while (running) {
    pollfd p{signal_fd, POLLIN, 0};
    if (::poll(&p, 1, tick_ms) > 0) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (info.ssi_signo == SIGHUP) {
          reload();
        } else {
          running = false;
        }
      }
    }
    supervise();
  }
  ::close(signal_fd);
  notify::stopping();
  shut_down();
  std::cerr << "verdictd: stopped\n";
  return 0;
}

void Daemon::shut_down() {
  // Change the steering first so nothing new is queued, then answer what is.
  try {
    if (config_.fail_open) {
      steering_.remove();
    } else {
      steering_.close();
    }
  } catch (const std::exception& e) {
    std::cerr << "verdictd: " << e.what() << "\n";
  }
  for (auto& worker : workers_) worker->stop();
  if (control_) control_->stop();
  links_.stop();
}

std::string Daemon::reload() {
  std::lock_guard lock(reload_mutex_);
  notify::reloading();
  try {
    auto next = rulesets_->reload(config_.ruleset);
    if (next->used_hooks != steered_hooks_) steer(*next);
    notify::ready("running; reloaded " + config_.ruleset + " (" +
                  std::to_string(rule_count(*next)) + " rules); steering " +
                  hooks_text(steered_hooks_));
    std::cerr << "verdictd: reloaded " << config_.ruleset << "\n";
    return {};
  } catch (const std::exception& e) {
    notify::ready(std::string("reload failed: ") + e.what() + "; previous ruleset still in force");
    std::cerr << "verdictd: reload failed, previous ruleset still in force: " << e.what() << "\n";
    return e.what();
  }
}

void Daemon::supervise() {
  const auto now = std::chrono::steady_clock::now();
  std::string outage;
  for (const auto& worker : workers_) {
    if (!worker->stalled(now, kStallLimit)) continue;
    outage = "queue " + std::to_string(worker->queue_number()) + " (" +
             std::string(hook_name(worker->hook())) + ") stalled" +
             (worker->failure().empty() ? "" : ": " + worker->failure());
    break;
  }
  if (outage != outage_) {
    outage_ = outage;
    if (!outage.empty()) {
      notify::status(outage + "; watchdog stopped");
      std::cerr << "verdictd: " << outage << "\n";
    }
  }
  if (outage.empty()) notify::watchdog();
}

std::string Daemon::status_text() const {
  const auto ruleset = rulesets_->snapshot();
  std::string text = "ruleset: " + ruleset->source + " (" + std::to_string(rule_count(*ruleset)) +
                     " rules)\n";
  const std::string reload_error = rulesets_->last_error();
  text += "last reload: " + (reload_error.empty() ? std::string("ok") : "failed: " + reload_error) +
          "\n";
  text += "steering: " + std::string(steering_name(config_.steering)) + ", " +
          (config_.fail_open ? "fail-open" : "fail-closed") + ", hooks " +
          hooks_text(steered_hooks_) + "\n";
  text += "health: " + (outage_.empty() ? std::string("ok") : outage_) + "\n";
  text += "queue  hook         packets    accepted   dropped    enobufs  state\n";
  const auto now = std::chrono::steady_clock::now();
  for (const auto& worker : workers_) {
    const QueueStats s = worker->stats();
    text += pad(std::to_string(worker->queue_number()), 7) +
            pad(std::string(hook_name(worker->hook())), 13) + pad(std::to_string(s.packets), 11) +
            pad(std::to_string(s.accepted), 11) + pad(std::to_string(s.dropped), 11) +
            pad(std::to_string(s.enobufs), 9) +
            (worker->stalled(now, kStallLimit) ? "STALLED" : "ok") + "\n";
  }
  return text;
}

nlohmann::ordered_json Daemon::handle(const nlohmann::ordered_json& request) {
  const std::string command = request.value("command", "");
  if (command == "status") return {{"ok", true}, {"text", status_text()}};
  if (command == "zero") {
    zero_counters(*rulesets_->snapshot());
    return {{"ok", true}, {"text", ""}};
  }
  if (command == "reload") {
    const std::string error = reload();
    if (!error.empty()) return {{"ok", false}, {"error", error}};
    return {{"ok", true}, {"text", "reloaded " + config_.ruleset + "\n"}};
  }
  if (command == "list") {
    ListOptions options;
    const auto table = table_from_name(request.value("table", "filter"));
    if (!table) return {{"ok", false}, {"error", "no table named " + request.value("table", "")}};
    options.table = *table;
    if (request.contains("chain") && request["chain"].is_string()) {
      options.chain = request["chain"].get<std::string>();
    }
    options.verbose = request.value("verbose", false);
    options.line_numbers = request.value("line_numbers", false);
    const int family = request.value("family", 0);
    if (family == 4) options.family = Family::kIPv4;
    if (family == 6) options.family = Family::kIPv6;
    try {
      return {{"ok", true}, {"text", list_table(*rulesets_->snapshot(), options)}};
    } catch (const std::exception& e) {
      return {{"ok", false}, {"error", std::string(e.what())}};
    }
  }
  return {{"ok", false}, {"error", "unknown command \"" + command + "\""}};
}

}  // namespace verdictd
