// The kernel's conntrack table mirrored into ours over ctnetlink, by the
// shared netlink reader (netlink_reader.hpp): subscribe to NEW/UPDATE/DESTROY
// and expectation events first, then dump both tables and upsert; after an
// overrun (ENOBUFS) dump again and sweep what the dump no longer has. The
// messages are parsed by libnetfilter_conntrack. Also decides which of the
// queues' misses are asked of the kernel (only those the mirror itself
// cannot answer: miss_policy.hpp; the questions travel on each worker's own
// socket: conntrack_questions.hpp), merges the answers, and writes
// connection marks to the kernel's entries, on the reader's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "conntrack/expectations.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/miss_policy.hpp"
#include "conntrack/token_bucket.hpp"
#include "kernel/netlink_reader.hpp"

namespace verdictd {

struct MirrorStats {
  std::uint64_t events = 0;          // conntrack events applied
  std::uint64_t own_events = 0;      // events caused by our own changes, ignored
  std::uint64_t overruns = 0;        // ENOBUFS on the event socket
  std::uint64_t resyncs = 0;         // full dumps after an overrun or a full table (not the first)
  std::uint64_t swept = 0;           // flows removed by resyncs, or found gone without an event
  std::uint64_t fetches = 0;         // lookups asked of the kernel for the queues
  std::uint64_t fetch_hits = 0;      // ... that found a connection
  std::uint64_t fetch_timeouts = 0;  // ... whose packets went on without the answer
  std::uint64_t marks_written = 0;   // connection marks written to the kernel
  std::uint64_t mark_errors = 0;
  std::size_t expectations = 0;  // live expectations mirrored
  // First packets that waited for the events to be read (await_events),
  // those of them that went on when the bound passed, and those that did
  // not look, the budget spent.
  std::uint64_t event_waits = 0;
  std::uint64_t event_wait_timeouts = 0;
  std::uint64_t event_waits_skipped = 0;
  // Tracker lookups answered without asking the kernel: the mirror knew it
  // had no such connection; or the budget for asking was spent
  // (miss_policy.hpp).
  std::uint64_t fetches_skipped = 0;
  std::uint64_t fetches_limited = 0;
};

class ConntrackMirror {
 public:
  // `debug`: each lasting divergence (conntrack/divergence.hpp) is logged.
  ConntrackMirror(FlowTable& flows, Expectations& expectations, bool debug = false);
  ~ConntrackMirror();
  ConntrackMirror(const ConntrackMirror&) = delete;
  ConntrackMirror& operator=(const ConntrackMirror&) = delete;
  ConntrackMirror(ConntrackMirror&&) = delete;
  ConntrackMirror& operator=(ConntrackMirror&&) = delete;

  // Subscribes, dumps the kernel's table into ours and starts the thread.
  // Throws std::runtime_error with a one-line reason.
  void start();
  void stop();

  // Thread-safe, for the queues' questions (conntrack_questions.hpp).
  // Whether a connection the table lacks must be asked of the kernel: false
  // when the mirror knows the kernel has none either, or MissPolicy's budget
  // is spent. Counted (fetches, fetches_skipped, fetches_limited).
  bool should_ask(ConntrackTime now);
  // The kernel's answer to a question: the connection it has, merged into
  // the table; nullopt when it has none.
  void answered(const std::optional<Flow>& flow, ConntrackTime now);
  // A question's packets went on without its answer.
  void abandoned() { ++counters_.fetch_timeouts; }
  // Asks the mirror thread to write the mark of the flow holding `original`
  // to the kernel's entry (now, or once the kernel has confirmed it).
  void sync_mark(const Tuple& original);
  // For a connection's first packet that found no expectation: when events
  // the kernel has sent are not yet applied, waits until they are, or for
  // `limit`, and returns true (counted: event_waits, event_wait_timeouts).
  // The queues check 2,000 times a second and wait 5 ms a second at most,
  // all together; past that they go on at once (event_waits_skipped).
  bool await_events(std::chrono::microseconds limit);

  [[nodiscard]] MirrorStats stats() const;

 private:
  struct Sockets;
  struct Counters {
    std::atomic<std::uint64_t> events{0};
    std::atomic<std::uint64_t> own_events{0};
    std::atomic<std::uint64_t> overruns{0};
    std::atomic<std::uint64_t> resyncs{0};
    std::atomic<std::uint64_t> swept{0};
    std::atomic<std::uint64_t> fetches{0};
    std::atomic<std::uint64_t> fetch_hits{0};
    std::atomic<std::uint64_t> fetch_timeouts{0};
    std::atomic<std::uint64_t> fetches_skipped{0};
    std::atomic<std::uint64_t> fetches_limited{0};
    std::atomic<std::uint64_t> marks_written{0};
    std::atomic<std::uint64_t> mark_errors{0};
    std::atomic<std::uint64_t> event_waits{0};
    std::atomic<std::uint64_t> event_wait_timeouts{0};
    std::atomic<std::uint64_t> event_waits_skipped{0};
  };

  // The reader's handlers, on its thread (the first dump: in start()).
  void dump_begins();
  void message(const nlmsghdr& message, bool from_dump, bool also_dumped);
  void connection(const nlmsghdr& message, bool from_dump, bool also_dumped);
  void expectation(const nlmsghdr& message, bool from_dump);
  void dump_complete();
  // Timers and the marks sync_mark queued; how long the reader may wait.
  std::chrono::milliseconds tick(bool woken);

  void register_query_callback();
  // Writes the marks of the flows queued by sync_mark, and of `more`; keeps
  // those the kernel has not confirmed yet for the next round.
  void write_marks(std::vector<Tuple> more);
  void write_mark(const Flow& flow);
  void maintain(ConntrackTime now);
  // Dumps the kernel's table again when ours has dropped flows and has room.
  void refill(ConntrackTime now);
  // Counts the flows on which the kernel lastingly disagrees with us; logs them.
  void count_divergences(ConntrackTime now);
  // Asks the kernel about some of the connections that send no events, and
  // forgets those it no longer has.
  void check_silent(ConntrackTime now);
  // Flows the table dropped (evicted, refused), maybe the kernel's.
  [[nodiscard]] std::uint64_t table_losses() const;
  // A ctnetlink get, merging nothing.
  std::optional<Flow> ask_kernel(const Tuple& tuple, ConntrackTime now);

  FlowTable* flows_;
  Expectations* expectations_;
  bool debug_;
  std::unique_ptr<Sockets> sockets_;
  Counters counters_;
  MissPolicy misses_;
  // Microseconds a second the queues may spend waiting in await_events, and
  // how many of its checks for unread events (a poll each) a second.
  TokenBucket event_wait_budget_{5000, 5000};
  TokenBucket event_check_budget_{2000, 2000};
  NetlinkReader reader_;
};

}  // namespace verdictd
