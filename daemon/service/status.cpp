#include "service/status.hpp"

#include "service/config.hpp"

namespace verdictd {

namespace {

std::string left(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text + " ";
}

std::string right(const std::string& text, std::size_t width) {
  return (text.size() < width ? std::string(width - text.size(), ' ') : std::string()) + text + " ";
}

std::string reload_text(const ReloadOutcome& outcome) {
  if (!outcome.ran) return "none";
  return outcome.error.empty() ? "ok" : "failed: " + outcome.error;
}

// One line of the flow table's and the mirror's counts.
std::string conntrack_text(const StatusReport& report) {
  const FlowTableStats& f = report.flows;
  const MirrorStats& m = report.mirror;
  auto field = [](const char* name, std::uint64_t value) {
    return std::string(" ") + name + "=" + std::to_string(value);
  };
  return "conntrack" + field("flows", f.flows) + field("max", f.max_flows) +
         field("evicted", f.evicted) + field("refused", f.refused) + field("events", m.events) +
         field("own_events", m.own_events) + field("overruns", m.overruns) +
         field("resyncs", m.resyncs) + field("swept", m.swept) + field("fetches", m.fetches) +
         field("fetch_hits", m.fetch_hits) + field("fetches_skipped", m.fetches_skipped) +
         field("fetches_limited", m.fetches_limited) + field("fetch_timeouts", m.fetch_timeouts) +
         field("marks_written", m.marks_written) + field("mark_errors", m.mark_errors) +
         field("event_waits", m.event_waits) + field("event_wait_timeouts", m.event_wait_timeouts) +
         field("event_waits_skipped", m.event_waits_skipped) +
         field("expectations", m.expectations) + field("divergences", f.divergences) + "\nnat" +
         field("bindings", report.nat.bindings) + field("exhausted", report.nat.exhausted) +
         field("stored", report.stored_bindings) + field("restored", report.restored_bindings) +
         field("unbound_drops", report.nat.unbound_drops) + "\nlog" +
         field("written", report.log.written) + field("to_stderr", report.log.to_stderr) +
         field("lost", report.log.lost);
}

}  // namespace

std::string hooks_text(HookMask hooks) {
  std::string text;
  for (Hook h : kAllHooks) {
    if ((hooks & hook_bit(h)) == 0) continue;
    if (!text.empty()) text += ' ';
    text += hook_name(h);
  }
  return text.empty() ? "none" : text;
}

std::string hooks_text(const FamilyHooks& hooks) {
  if (hooks[Family::kIPv4] == hooks[Family::kIPv6]) return hooks_text(hooks[Family::kIPv4]);
  return "ipv4 " + hooks_text(hooks[Family::kIPv4]) + ", ipv6 " + hooks_text(hooks[Family::kIPv6]);
}

std::string ruleset_line(const StatusReport& report) {
  const FallbackReport& f = report.fallback;
  const std::string rules = " (" + std::to_string(report.rules) + " rules)";
  switch (f.kind) {
    case Fallback::kNone:
      break;
    case Fallback::kLastGood:
      return "ruleset: LAST-GOOD from " + f.saved + ", " + report.ruleset + rules + " (" + f.error +
             ")";
    case Fallback::kClosed:
      return "ruleset: CLOSED, no usable ruleset: hooks " + hooks_text(f.closed_hooks) +
             " drop every packet until a good ruleset is reloaded (" + f.error + "; " +
             f.last_good + ")";
    case Fallback::kOpen:
      return "ruleset: NONE, fail-open: nothing is steered, every packet passes until a good "
             "ruleset is reloaded (" +
             f.error + "; " + f.last_good + ")";
  }
  return "ruleset: " + report.ruleset + rules;
}

std::string running_line(const StatusReport& report) {
  if (report.fallback.kind != Fallback::kNone) {
    return "running, " + std::to_string(report.queues.size()) + " queues, " +
           ruleset_line(report).substr(std::string_view("ruleset: ").size());
  }
  return "running, " + std::to_string(report.queues.size()) + " queues, ruleset " + report.ruleset +
         " (" + std::to_string(report.rules) + " rules), steering " +
         hooks_text(report.steered_hooks);
}

std::string status_text(const StatusReport& report) {
  std::string text = ruleset_line(report) + "\nlast reload: " + reload_text(report.last_reload) +
                     "\nsteering: " + std::string(steering_name(report.steering)) + ", " +
                     (report.fail_open ? "fail-open" : "fail-closed") + ", hooks " +
                     hooks_text(report.steered_hooks) +
                     ", steering_repairs=" + std::to_string(report.steering_repairs) +
                     "\nhealth: " + (report.outage.empty() ? "ok" : report.outage) + "\n" +
                     conntrack_text(report) + "\n";
  text += left("queue", 5) + left("hook", 11) + right("packets", 12) + right("accepted", 12) +
          right("dropped", 12) + right("enobufs", 9) + "state\n";
  for (const QueueReport& q : report.queues) {
    text += left(std::to_string(q.number), 5) + left(std::string(hook_name(q.hook)), 11) +
            right(std::to_string(q.stats.packets), 12) +
            right(std::to_string(q.stats.accepted), 12) +
            right(std::to_string(q.stats.dropped), 12) + right(std::to_string(q.stats.enobufs), 9) +
            (q.stalled ? "STALLED" : "ok") + "\n";
  }
  return text;
}

}  // namespace verdictd
