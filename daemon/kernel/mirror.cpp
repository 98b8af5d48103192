#include "kernel/mirror.hpp"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnfnetlink/libnfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "conntrack/divergence.hpp"
#include "kernel/kernel_flow.hpp"

namespace verdictd {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Room for a burst of events while the thread is busy (a resync dump, a slow
// table); forced past rmem_max, which needs CAP_NET_ADMIN.
constexpr int kEventBuffer = 8 << 20;
constexpr auto kTick = milliseconds(200);  // marks the kernel had not confirmed are retried
constexpr auto kMaintenance = seconds(1);  // expiry, and the flows the kernel never confirmed
// A flow a queue created that the kernel has not confirmed for this long
// never will be: its first packet was dropped after the queue saw it.
constexpr auto kUnconfirmedAge = seconds(5);
// A resync keeps unconfirmed flows this much younger than its dump.
constexpr auto kResyncGrace = seconds(2);
// Gets spent per maintenance round on connections that send no events.
constexpr std::size_t kSilentChecks = 256;
// After the table dropped flows (it was full), a dump once it has room again
// brings back what the kernel still has, and misses need no lookups again
// (miss_policy.hpp): no more often than this.
constexpr auto kRefillInterval = seconds(10);
constexpr std::size_t kRefillRoomPercent = 75;  // the table at most this full

// Whether the kernel gives every connection events (nf_conntrack_events=1),
// rather than only those created while someone listens (2, the default).
bool kernel_reports_every_connection() {
  std::ifstream setting("/proc/sys/net/netfilter/nf_conntrack_events");
  int value = 2;
  setting >> value;
  return value == 1;
}

std::runtime_error failure(const std::string& what) {
  const int error = errno;
  return std::runtime_error(what + ": " + std::strerror(error));
}

struct HandleCloser {
  void operator()(nfct_handle* handle) const { nfct_close(handle); }
};
using Handle = std::unique_ptr<nfct_handle, HandleCloser>;

struct ExpectationDeleter {
  void operator()(nf_expect* expectation) const { nfexp_destroy(expectation); }
};

// ctnetlink's message types, as the reader subscribes and dumps them.
constexpr std::uint16_t message_type(std::uint8_t subsystem, std::uint8_t type) {
  return static_cast<std::uint16_t>(subsystem << 8U | type);
}
constexpr std::uint16_t kConntrackDump = message_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET);
constexpr std::uint16_t kExpectationDump =
    message_type(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_GET);

}  // namespace

struct ConntrackMirror::Sockets {
  // Gets and mark updates, asked by the reader's thread. The kernel stamps
  // the events our updates cause with this socket's port id, which is how
  // they are known.
  Handle queries = [] {
    Handle handle(nfct_open(CONNTRACK, 0));
    if (!handle) throw failure("opening a ctnetlink socket for queries");
    return handle;
  }();
  std::uint32_t query_port = nfnl_portid(nfct_nfnlh(queries.get()));
  std::optional<Flow>* answer = nullptr;  // where the get's callback puts the flow
  ConntrackTime answer_time{};

  std::mutex marks_mutex;
  std::vector<Tuple> queued_marks;  // from sync_mark

  // The reader thread's own state.
  std::uint64_t dumps = 0;                      // complete dumps so far
  std::unordered_set<Tuple, TupleHash> dumped;  // tuples of the running dump's flows
  // Expected connections of the running dump whose master came later in it:
  // (the connection's original tuple, its master's), resolved at its end.
  std::vector<std::pair<Tuple, Tuple>> masters_to_resolve;
  ConntrackTime dump_started{};
  std::uint64_t losses_before_dump = 0;  // table_losses() as the dump began
  // Connections of the first dump that will send no events, not even
  // DESTROY: the kernel attached no event cache to them, since no one
  // listened when they were created. Checked by gets, round by round.
  std::vector<std::pair<std::uint32_t, Tuple>> silent;  // kernel id, original
  std::size_t silent_next = 0;
  bool collect_silent = false;                             // during the first dump
  std::unordered_set<Tuple, TupleHash> unconfirmed_marks;  // waiting for the kernel's confirmation
  ConntrackTime next_tick{};                               // see kTick
  ConntrackTime next_maintenance{};                        // see kMaintenance
  ConntrackTime next_refill{};                             // see kRefillInterval
};

ConntrackMirror::ConntrackMirror(FlowTable& flows, Expectations& expectations, bool debug)
    : flows_(&flows),
      expectations_(&expectations),
      debug_(debug),
      reader_(
          {.protocol = NETLINK_NETFILTER,
           .groups = NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
                     NF_NETLINK_CONNTRACK_DESTROY | NF_NETLINK_CONNTRACK_EXP_NEW |
                     NF_NETLINK_CONNTRACK_EXP_DESTROY,
           .dump_types = {kConntrackDump, kExpectationDump},
           .dump_header = sizeof(nfgenmsg),
           .receive_buffer = kEventBuffer,
           .changes = "conntrack events",
           .table = "the kernel's conntrack table",
           .followed = "the kernel's conntrack table is no longer followed"},
          {.dump_begins = [this] { dump_begins(); },
           .message = [this](const nlmsghdr& message, bool from_dump,
                             bool also_dumped) { this->message(message, from_dump, also_dumped); },
           .dump_complete = [this] { dump_complete(); },
           .applied = {},
           .events_lost =
               [this] {
                 ++counters_.overruns;
                 misses_.lost_events();
               },
           .failed = [this] { misses_.lost_events(); },
           .tick = [this](bool woken) { return tick(woken); }}) {}

ConntrackMirror::~ConntrackMirror() { stop(); }

void ConntrackMirror::start() {
  stop();
  sockets_ = std::make_unique<Sockets>();
  register_query_callback();
  sockets_->collect_silent = !kernel_reports_every_connection();
  const auto now = ConntrackClock::now();
  sockets_->next_tick = now + kTick;
  sockets_->next_maintenance = now + kMaintenance;
  reader_.start();  // its std::system_error is a std::runtime_error
}

void ConntrackMirror::stop() {
  reader_.stop();
  sockets_.reset();
}

void ConntrackMirror::register_query_callback() {
  nfct_callback_register2(
      sockets_->queries.get(), NFCT_T_ALL,
      [](const nlmsghdr* message, nf_conntrack_msg_type /*type*/, nf_conntrack* conntrack,
         void* data) -> int {
        Sockets& sockets = *static_cast<ConntrackMirror*>(data)->sockets_;
        if (sockets.answer != nullptr) {
          *sockets.answer = flow_from_kernel(*message, *conntrack, sockets.answer_time);
        }
        return NFCT_CB_CONTINUE;
      },
      this);
}

void ConntrackMirror::dump_begins() {
  Sockets& s = *sockets_;
  s.dumped.clear();
  s.masters_to_resolve.clear();
  s.dump_started = ConntrackClock::now();
  s.losses_before_dump = table_losses();
  // Expectation events were lost too; there are few, so they are dumped afresh.
  if (s.dumps > 0) expectations_->clear();
}

void ConntrackMirror::message(const nlmsghdr& message, bool from_dump, bool also_dumped) {
  switch (NFNL_SUBSYS_ID(message.nlmsg_type)) {
    case NFNL_SUBSYS_CTNETLINK:
      connection(message, from_dump, also_dumped);
      break;
    case NFNL_SUBSYS_CTNETLINK_EXP:
      expectation(message, from_dump);
      break;
    default:
      break;
  }
}

void ConntrackMirror::connection(const nlmsghdr& message, bool from_dump, bool also_dumped) {
  Sockets& s = *sockets_;
  if (!from_dump && message.nlmsg_pid != 0 && message.nlmsg_pid == s.query_port) {
    ++counters_.own_events;
    return;
  }
  const KernelConntrack conntrack(nfct_new());
  if (!conntrack || nfct_nlmsg_parse(&message, conntrack.get()) < 0) return;
  const auto now = ConntrackClock::now();
  auto flow = flow_from_kernel(message, *conntrack, now);
  if (!flow) return;
  // An expected connection's helper, for -m helper, is its master's.
  if (const auto master = master_from_kernel(*conntrack, flow->original.family)) {
    const bool known = flows_->find(
        *master, now, [&](const Flow& found, Direction) { flow->helper = found.helper; });
    if (!known && from_dump) s.masters_to_resolve.emplace_back(flow->original, *master);
  }
  if (from_dump) {
    // A dump adds what fits and evicts nothing for the rest: the table
    // keeps the flows it has, and the tuples kept for the sweep
    // (retain_kernel) stay as many as the table holds, however large the
    // kernel's table is (a SYN flood fills it).
    if (flows_->merge_kernel(*flow, now, /*may_evict=*/false)) {
      s.dumped.insert(flow->original);
      s.dumped.insert(flow->reply);
    }
    if (s.collect_silent) s.silent.emplace_back(flow->kernel_id, flow->original);
    return;
  }
  ++counters_.events;
  if (NFNL_MSG_TYPE(message.nlmsg_type) == IPCTNL_MSG_CT_DELETE) {
    // A flow we translate (NAT) shares only its reply tuple with the kernel's.
    if (!flows_->kernel_destroyed(flow->original, flow->kernel_id, now)) {
      flows_->kernel_destroyed(flow->reply, flow->kernel_id, now);
    }
    return;
  }
  // Newer than what the running dump reports: the sweep after it keeps it.
  if (flows_->merge_kernel(*flow, now) && also_dumped) {
    s.dumped.insert(flow->original);
    s.dumped.insert(flow->reply);
  }
}

void ConntrackMirror::expectation(const nlmsghdr& message, bool from_dump) {
  const std::unique_ptr<nf_expect, ExpectationDeleter> parsed(nfexp_new());
  if (!parsed || nfexp_nlmsg_parse(&message, parsed.get()) < 0) return;
  const auto expected = expectation_from_kernel(message, *parsed, ConntrackClock::now());
  if (!expected) return;
  if (from_dump) {
    expectations_->add(*expected);
    return;
  }
  ++counters_.events;
  if (NFNL_MSG_TYPE(message.nlmsg_type) == IPCTNL_MSG_EXP_DELETE) {
    expectations_->remove(expected->kernel_id, ConntrackClock::now());
  } else {
    expectations_->add(*expected);
  }
}

void ConntrackMirror::dump_complete() {
  Sockets& s = *sockets_;
  // What the socket held before the dump (maybe a stale NEW whose DESTROY
  // was lost) was applied before it: the sweep takes back what the dump no
  // longer has.
  if (s.dumps > 0) {
    counters_.swept += flows_->retain_kernel(s.dumped, s.dump_started, kResyncGrace);
    ++counters_.resyncs;
  }
  misses_.dumped(s.losses_before_dump, table_losses());
  const auto now = ConntrackClock::now();
  for (const auto& [expected, master] : s.masters_to_resolve) {
    HelperName helper{};
    if (flows_->find(master, now, [&](const Flow& found, Direction) { helper = found.helper; })) {
      flows_->note_helper(expected, helper, now);
    }
  }
  s.masters_to_resolve.clear();
  s.dumped.clear();
  s.collect_silent = false;
  ++s.dumps;
}

std::chrono::milliseconds ConntrackMirror::tick(bool woken) {
  Sockets& s = *sockets_;
  const auto now = ConntrackClock::now();
  if (now >= s.next_maintenance) {
    maintain(now);
    s.next_maintenance = now + kMaintenance;
  } else if (woken || now >= s.next_tick) {
    write_marks({});
  }
  if (now >= s.next_tick) s.next_tick = now + kTick;
  return std::max(std::chrono::ceil<milliseconds>(s.next_tick - ConntrackClock::now()),
                  milliseconds(0));
}

void ConntrackMirror::maintain(ConntrackTime now) {
  flows_->expire(now);
  for (const Tuple& tuple : flows_->unconfirmed_before(now - kUnconfirmedAge)) {
    // Its NEW event may have been lost; otherwise the kernel never had it.
    if (const auto flow = ask_kernel(tuple, now)) {
      flows_->merge_kernel(*flow, now);
    } else {
      flows_->erase_unconfirmed(tuple);
    }
  }
  check_silent(now);
  refill(now);
  count_divergences(now);
  std::vector<Tuple> unsynced;
  for (const Flow& flow : flows_->marks_to_write()) unsynced.push_back(flow.original);
  write_marks(std::move(unsynced));
}

void ConntrackMirror::refill(ConntrackTime now) {
  const FlowTableStats table = flows_->stats();
  if (misses_.complete(table.evicted + table.refused) || now < sockets_->next_refill ||
      table.flows * 100 > table.max_flows * kRefillRoomPercent) {
    return;
  }
  sockets_->next_refill = now + kRefillInterval;
  reader_.dump_again();
}

void ConntrackMirror::count_divergences(ConntrackTime now) {
  const std::vector<Flow> lasting = flows_->count_lasting_divergences(now);
  if (!debug_) return;
  for (const Flow& flow : lasting) {
    std::fprintf(stderr, "verdictd: debug: the kernel's conntrack disagrees: %s\n",
                 divergence_text(flow).c_str());
  }
}

void ConntrackMirror::check_silent(ConntrackTime now) {
  auto& silent = sockets_->silent;
  std::size_t& next = sockets_->silent_next;
  for (std::size_t checked = 0; checked < kSilentChecks && !silent.empty(); ++checked) {
    if (next >= silent.size()) next = 0;
    const auto [kernel_id, original] = silent[next];
    const auto flow = ask_kernel(original, now);
    if (flow && flow->kernel_id == kernel_id) {
      flows_->merge_kernel(*flow, now);  // its timeout and mark, which no UPDATE brings
      ++next;
      continue;
    }
    if (flows_->erase_kernel(original, kernel_id)) ++counters_.swept;
    silent[next] = silent.back();
    silent.pop_back();
  }
}

void ConntrackMirror::sync_mark(const Tuple& original) {
  if (!sockets_) return;
  {
    const std::lock_guard lock(sockets_->marks_mutex);
    sockets_->queued_marks.push_back(original);
  }
  reader_.wake();
}

void ConntrackMirror::write_marks(std::vector<Tuple> more) {
  Sockets& s = *sockets_;
  // A set: a tuple may be queued again, and be among `more` too.
  std::unordered_set<Tuple, TupleHash> tuples = std::exchange(s.unconfirmed_marks, {});
  {
    const std::lock_guard lock(s.marks_mutex);
    tuples.insert(s.queued_marks.begin(), s.queued_marks.end());
    s.queued_marks.clear();
  }
  tuples.insert(more.begin(), more.end());
  const auto now = ConntrackClock::now();
  for (const Tuple& tuple : tuples) {
    std::optional<Flow> unsynced;  // nullopt: gone, or written already
    flows_->find(tuple, now, [&unsynced](const Flow& flow, Direction /*direction*/) {
      if (flow.mark_unsynced) unsynced = flow;
    });
    if (!unsynced) continue;
    if (unsynced->kernel_id == 0) {
      s.unconfirmed_marks.insert(tuple);
    } else {
      write_mark(*unsynced);
    }
  }
}

void ConntrackMirror::write_mark(const Flow& flow) {
  const KernelConntrack conntrack = kernel_conntrack(flow.original);
  nfct_set_attr_u32(conntrack.get(), ATTR_ID, flow.kernel_id);
  nfct_set_attr_u32(conntrack.get(), ATTR_MARK, flow.mark);
  const int result = nfct_query(sockets_->queries.get(), NFCT_Q_UPDATE, conntrack.get());
  ++(result == 0 ? counters_.marks_written : counters_.mark_errors);
  // After an error too: the kernel's entry is gone, or will not take it.
  flows_->modify(flow.original, ConntrackClock::now(), [&flow](Flow& current, Direction) {
    if (current.mark == flow.mark) current.mark_unsynced = false;
  });
}

std::optional<Flow> ConntrackMirror::ask_kernel(const Tuple& tuple, ConntrackTime now) {
  if (!sockets_) return std::nullopt;
  const KernelConntrack conntrack = kernel_conntrack(tuple);
  std::optional<Flow> answer;
  sockets_->answer = &answer;
  sockets_->answer_time = now;
  // Fails with ENOENT when the kernel has no such connection.
  nfct_query(sockets_->queries.get(), NFCT_Q_GET, conntrack.get());
  sockets_->answer = nullptr;
  return answer;
}

bool ConntrackMirror::await_events(std::chrono::microseconds limit) {
  if (!sockets_) return false;
  // Budgeted: a flood of new connections must not cost a poll each, nor
  // make the queues wait on a reader it keeps busy.
  const auto start = ConntrackClock::now();
  if (!event_wait_budget_.available(start) || !event_check_budget_.take(start)) {
    ++counters_.event_waits_skipped;
    return false;
  }
  if (reader_.caught_up()) return false;
  ++counters_.event_waits;
  const auto deadline = start + limit;
  // The reader's thread reads as soon as poll wakes it: leave it the CPU.
  auto now = start;
  while (!reader_.caught_up()) {
    now = ConntrackClock::now();
    if (now >= deadline) {
      ++counters_.event_wait_timeouts;
      break;
    }
    std::this_thread::yield();
  }
  const std::chrono::duration<double, std::micro> waited = now - start;
  event_wait_budget_.charge(waited.count());
  return true;
}

std::uint64_t ConntrackMirror::table_losses() const {
  const FlowTableStats stats = flows_->stats();
  return stats.evicted + stats.refused;
}

bool ConntrackMirror::should_ask(ConntrackTime now) {
  if (!sockets_) return false;
  switch (misses_.decide(
      table_losses(), [this] { return reader_.caught_up(); }, now)) {
    case MissAnswer::kAbsent:
      ++counters_.fetches_skipped;
      return false;
    case MissAnswer::kOverBudget:
      ++counters_.fetches_limited;
      return false;
    case MissAnswer::kAsk:
      break;
  }
  ++counters_.fetches;
  return true;
}

void ConntrackMirror::answered(const std::optional<Flow>& flow, ConntrackTime now) {
  if (!flow) return;
  ++counters_.fetch_hits;
  // A full table may leave it out: the packet is then decided without it.
  flows_->merge_kernel(*flow, now);
}

MirrorStats ConntrackMirror::stats() const {
  MirrorStats stats;
  stats.events = counters_.events.load();
  stats.own_events = counters_.own_events.load();
  stats.overruns = counters_.overruns.load();
  stats.resyncs = counters_.resyncs.load();
  stats.swept = counters_.swept.load();
  stats.fetches = counters_.fetches.load();
  stats.fetch_hits = counters_.fetch_hits.load();
  stats.fetch_timeouts = counters_.fetch_timeouts.load();
  stats.fetches_skipped = counters_.fetches_skipped.load();
  stats.fetches_limited = counters_.fetches_limited.load();
  stats.marks_written = counters_.marks_written.load();
  stats.mark_errors = counters_.mark_errors.load();
  stats.event_waits = counters_.event_waits.load();
  stats.event_wait_timeouts = counters_.event_wait_timeouts.load();
  stats.event_waits_skipped = counters_.event_waits_skipped.load();
  stats.expectations = expectations_->size();
  return stats;
}

}  // namespace verdictd
