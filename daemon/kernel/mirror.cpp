#include "kernel/mirror.hpp"

#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnfnetlink/libnfnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "conntrack/divergence.hpp"
#include "kernel/kernel_flow.hpp"
#include "kernel/wakeup.hpp"

namespace verdictd {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Room for a burst of events while the thread is busy (a resync dump, a slow
// table); forced past rmem_max, which needs CAP_NET_ADMIN.
constexpr unsigned int kEventBuffer = 8U << 20U;
// Events applied before the loop looks at its timers again.
constexpr int kEventBatch = 4096;
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

int nonblocking(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
    throw failure("making the event socket non-blocking");
  }
  return fd;
}

Handle open_handle(std::uint8_t subsystems, unsigned int groups, const char* what) {
  Handle handle(nfct_open(subsystems, groups));
  if (!handle) throw failure(std::string("opening a ctnetlink socket for ") + what);
  return handle;
}

}  // namespace

struct ConntrackMirror::Sockets {
  // Conntrack and expectation events, subscribed before the first dump.
  Handle events = open_handle(NFNL_SUBSYS_NONE,
                              NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
                                  NF_NETLINK_CONNTRACK_DESTROY | NF_NETLINK_CONNTRACK_EXP_NEW |
                                  NF_NETLINK_CONNTRACK_EXP_DESTROY,
                              "events");
  // The mirror thread's dumps of both tables.
  Handle dumps = open_handle(NFNL_SUBSYS_NONE, 0, "dumps");
  // The mirror thread's gets and mark updates. The kernel stamps the events
  // our updates cause with this socket's port id, which is how they are known.
  Handle queries = open_handle(CONNTRACK, 0, "queries");
  std::uint32_t query_port = nfnl_portid(nfct_nfnlh(queries.get()));
  int events_fd = nonblocking(nfct_fd(events.get()));
  // Odd while the mirror thread reads and applies events or resyncs; each
  // such round adds two. See events_applied.
  std::atomic<std::uint64_t> reading{0};
  std::optional<Flow>* answer = nullptr;  // where the get's callback puts the flow
  ConntrackTime answer_time{};

  Wakeup wake;  // a mark to write, or stop
  std::mutex marks_mutex;
  std::vector<Tuple> queued_marks;  // from sync_mark

  // The mirror thread's own state.
  int events_left = 0;                          // of the current batch
  std::unordered_set<Tuple, TupleHash> dumped;  // tuples of the running dump's flows
  // Connections of the first dump that will send no events, not even
  // DESTROY: the kernel attached no event cache to them, since no one
  // listened when they were created. Checked by gets, round by round.
  std::vector<std::pair<std::uint32_t, Tuple>> silent;  // kernel id, original
  std::size_t silent_next = 0;
  bool collect_silent = false;                             // during the first dump
  std::unordered_set<Tuple, TupleHash> unconfirmed_marks;  // waiting for the kernel's confirmation
  ConntrackTime next_refill{};                             // see kRefillInterval

  Sockets() { nfnl_rcvbufsiz(nfct_nfnlh(events.get()), kEventBuffer); }
};

ConntrackMirror::ConntrackMirror(FlowTable& flows, Expectations& expectations, bool debug)
    : flows_(&flows), expectations_(&expectations), debug_(debug) {}

ConntrackMirror::~ConntrackMirror() { stop(); }

void ConntrackMirror::start() {
  stop();
  sockets_ = std::make_unique<Sockets>();
  register_callbacks();
  sockets_->collect_silent = !kernel_reports_every_connection();
  const std::uint64_t losses = table_losses();
  dump_flows();
  misses_.dumped(losses, table_losses());
  sockets_->collect_silent = false;
  dump_expectations();
  stopping_.store(false);
  thread_ = std::thread(&ConntrackMirror::run, this);
}

void ConntrackMirror::stop() {
  if (thread_.joinable()) {
    stopping_.store(true);
    sockets_->wake.signal();
    thread_.join();
  }
  sockets_.reset();
}

void ConntrackMirror::register_callbacks() {
  Sockets& s = *sockets_;
  nfct_callback_register2(
      s.events.get(), NFCT_T_ALL,
      [](const nlmsghdr* message, nf_conntrack_msg_type type, nf_conntrack* conntrack,
         void* data) -> int {
        auto& self = *static_cast<ConntrackMirror*>(data);
        if (message->nlmsg_pid != 0 && message->nlmsg_pid == self.sockets_->query_port) {
          ++self.counters_.own_events;
        } else if (const auto now = ConntrackClock::now();
                   const auto flow = flow_from_kernel(*message, *conntrack, now)) {
          ++self.counters_.events;
          if (type == NFCT_T_DESTROY) {
            // A flow we translate (NAT) shares only its reply tuple with the kernel's.
            if (!self.flows_->erase_kernel(flow->original, flow->kernel_id)) {
              self.flows_->erase_kernel(flow->reply, flow->kernel_id);
            }
          } else {
            self.flows_->merge_kernel(*flow, now);
          }
        }
        return --self.sockets_->events_left > 0 ? NFCT_CB_CONTINUE : NFCT_CB_STOP;
      },
      this);
  nfexp_callback_register2(
      s.events.get(), NFCT_T_ALL,
      [](const nlmsghdr* message, nf_conntrack_msg_type type, nf_expect* expectation,
         void* data) -> int {
        auto& self = *static_cast<ConntrackMirror*>(data);
        const auto expected =
            expectation_from_kernel(*message, *expectation, ConntrackClock::now());
        if (expected) {
          ++self.counters_.events;
          if (type == NFCT_T_DESTROY) {
            self.expectations_->remove(expected->kernel_id);
          } else {
            self.expectations_->add(*expected);
          }
        }
        return --self.sockets_->events_left > 0 ? NFCT_CB_CONTINUE : NFCT_CB_STOP;
      },
      this);
  nfct_callback_register2(
      s.dumps.get(), NFCT_T_ALL,
      [](const nlmsghdr* message, nf_conntrack_msg_type /*type*/, nf_conntrack* conntrack,
         void* data) -> int {
        auto& self = *static_cast<ConntrackMirror*>(data);
        const auto now = ConntrackClock::now();
        // A dump adds what fits and evicts nothing for the rest: the table
        // keeps the flows it has, and the tuples kept for the sweep
        // (retain_kernel) stay as many as the table holds, however large the
        // kernel's table is (a SYN flood fills it).
        if (const auto flow = flow_from_kernel(*message, *conntrack, now)) {
          if (self.flows_->merge_kernel(*flow, now, /*may_evict=*/false)) {
            self.sockets_->dumped.insert(flow->original);
            self.sockets_->dumped.insert(flow->reply);
          }
          if (self.sockets_->collect_silent) {
            self.sockets_->silent.emplace_back(flow->kernel_id, flow->original);
          }
        }
        return NFCT_CB_CONTINUE;
      },
      this);
  nfexp_callback_register2(
      s.dumps.get(), NFCT_T_ALL,
      [](const nlmsghdr* message, nf_conntrack_msg_type /*type*/, nf_expect* expectation,
         void* data) -> int {
        auto& self = *static_cast<ConntrackMirror*>(data);
        const auto expected =
            expectation_from_kernel(*message, *expectation, ConntrackClock::now());
        if (expected) self.expectations_->add(*expected);
        return NFCT_CB_CONTINUE;
      },
      this);
  nfct_callback_register2(
      s.queries.get(), NFCT_T_ALL,
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

std::unordered_set<Tuple, TupleHash> ConntrackMirror::dump_flows() {
  Sockets& s = *sockets_;
  s.dumped.clear();
  const std::uint32_t family = AF_UNSPEC;
  if (nfct_query(s.dumps.get(), NFCT_Q_DUMP, &family) < 0) {
    throw failure("dumping the kernel's conntrack table");
  }
  return std::exchange(s.dumped, {});
}

void ConntrackMirror::dump_expectations() {
  const std::uint32_t family = AF_UNSPEC;
  if (nfexp_query(sockets_->dumps.get(), NFCT_Q_DUMP, &family) < 0) {
    throw failure("dumping the kernel's expectations");
  }
}

void ConntrackMirror::run() {
  Sockets& s = *sockets_;
  auto next_tick = ConntrackClock::now() + kTick;
  auto next_maintenance = ConntrackClock::now() + kMaintenance;
  try {
    while (!stopping_.load()) {
      std::array<pollfd, 2> ready{{{s.events_fd, POLLIN, 0}, {s.wake.fd(), POLLIN, 0}}};
      const auto wait = std::chrono::ceil<milliseconds>(next_tick - ConntrackClock::now());
      if (poll(ready.data(), ready.size(), static_cast<int>(std::max<long>(wait.count(), 0))) < 0 &&
          errno != EINTR) {
        throw failure("poll on ctnetlink");
      }
      if ((ready[0].revents & POLLIN) != 0 && !read_events()) resync();
      const bool woken = (ready[1].revents & POLLIN) != 0;
      if (woken) s.wake.clear();
      const auto now = ConntrackClock::now();
      if (now >= next_maintenance) {
        maintain(now);
        next_maintenance = now + kMaintenance;
      } else if (woken || now >= next_tick) {
        write_marks({});
      }
      if (now >= next_tick) next_tick = now + kTick;
    }
  } catch (const std::exception& e) {
    misses_.lost_events();
    std::fprintf(stderr, "verdictd: the kernel's conntrack table is no longer followed: %s\n",
                 e.what());
  }
}

// Marks the mirror thread busy with events for as long as it lives.
class ConntrackMirror::ReadingEvents {
 public:
  explicit ReadingEvents(std::atomic<std::uint64_t>& generation) : generation_(&generation) {
    ++*generation_;
  }
  ~ReadingEvents() { ++*generation_; }
  ReadingEvents(const ReadingEvents&) = delete;
  ReadingEvents& operator=(const ReadingEvents&) = delete;
  ReadingEvents(ReadingEvents&&) = delete;
  ReadingEvents& operator=(ReadingEvents&&) = delete;

 private:
  std::atomic<std::uint64_t>* generation_;
};

bool ConntrackMirror::read_events() {
  Sockets& s = *sockets_;
  const ReadingEvents reading(s.reading);
  s.events_left = kEventBatch;
  while (nfct_catch(s.events.get()) < 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == ENOBUFS) {
      ++counters_.overruns;
      misses_.lost_events();
      return false;
    }
    throw failure("reading conntrack events");
  }
  return true;  // the batch is done; poll tells whether more wait
}

void ConntrackMirror::resync() {
  const ReadingEvents reading(sockets_->reading);
  // What the socket still holds predates the overrun, and the dump below
  // supersedes it: applied after the dump, a stale NEW would bring back a
  // connection whose DESTROY was lost. At most twice the buffer, so a flood
  // cannot keep us here.
  std::array<char, 65536> discard{};
  for (std::size_t drained = 0; drained < std::size_t{2} * kEventBuffer;) {
    const ssize_t n = recv(sockets_->events_fd, discard.data(), discard.size(), MSG_DONTWAIT);
    if (n > 0) {
      drained += static_cast<std::size_t>(n);
    } else if (n == 0 || (errno != ENOBUFS && errno != EINTR)) {
      break;
    }
  }
  const auto started = ConntrackClock::now();
  const std::uint64_t losses = table_losses();
  const auto dumped = dump_flows();
  counters_.swept += flows_->retain_kernel(dumped, started, kResyncGrace);
  misses_.dumped(losses, table_losses());
  // Expectation events were lost too; there are few, so dump them afresh.
  expectations_->clear();
  dump_expectations();
  ++counters_.resyncs;
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
  resync();
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
  sockets_->wake.signal();
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

std::uint64_t ConntrackMirror::table_losses() const {
  const FlowTableStats stats = flows_->stats();
  return stats.evicted + stats.refused;
}

bool ConntrackMirror::events_applied() const {
  Sockets& s = *sockets_;
  const std::uint64_t before = s.reading.load();
  if (before % 2 != 0) return false;
  // Anything ready, an error (ENOBUFS) or a failed poll: not known applied.
  pollfd events{s.events_fd, POLLIN, 0};
  if (poll(&events, 1, 0) != 0) return false;
  // Nothing was taken from the socket meanwhile, still to be applied.
  return s.reading.load() == before;
}

bool ConntrackMirror::should_ask(ConntrackTime now) {
  if (!sockets_) return false;
  switch (misses_.decide(
      table_losses(), [this] { return events_applied(); }, now)) {
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
  stats.expectations = expectations_->size();
  return stats;
}

}  // namespace verdictd
