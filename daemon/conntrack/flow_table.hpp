// The flow table: every tracked connection, reachable by either of its
// tuples, shared by the queue threads and the kernel mirror. Bounded: when
// full, the oldest flow not yet ASSURED, or closing down (TCP FIN_WAIT to
// CLOSE), makes room, as the kernel's early drop does; when there is none
// the new flow is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "conntrack/binding_journal.hpp"
#include "conntrack/flow.hpp"

namespace verdictd {

// The kernel's nf_conntrack_max on a machine with a few GiB of memory.
inline constexpr std::size_t kDefaultMaxFlows = 262144;

struct FlowTableStats {
  std::size_t flows = 0;
  std::size_t max_flows = 0;
  std::uint64_t evicted = 0;  // unassured or closing flows dropped to make room
  std::uint64_t refused = 0;  // new flows refused: full, and nothing could be evicted
  // Observed flows on which the kernel's conntrack lastingly disagreed with
  // ours (conntrack/divergence.hpp), each counted once.
  std::uint64_t divergences = 0;
};

class FlowTable {
 public:
  explicit FlowTable(std::size_t max_flows = kDefaultMaxFlows);

  struct Found {
    Flow flow;
    Direction direction;  // which of the flow's tuples matched
  };

  // The live flow one of whose tuples is `tuple`; expired flows are not found.
  [[nodiscard]] std::optional<Found> find(const Tuple& tuple, ConntrackTime now) const;

  // Runs `change(Flow&, Direction)` on the live flow holding `tuple`, under
  // the table's lock, and returns the flow as changed. The tuples must not be
  // changed. nullopt when there is no such flow.
  template <class Change>
  std::optional<Found> modify(const Tuple& tuple, ConntrackTime now, Change&& change) {
    const std::lock_guard lock(mutex_);
    const auto located = locate(tuple, now);
    if (!located) return std::nullopt;
    Flow& flow = slots_[located->first].flow;
    change(flow, located->second);
    return Found{flow, located->second};
  }

  enum class Insert : std::uint8_t { kInserted, kExists, kFull };
  // Adds a flow under both its tuples (an expired flow holding one of them is
  // replaced). kExists when a live flow holds either tuple.
  Insert insert(const Flow& flow, ConntrackTime now);

  // NAT: gives the flow whose original tuple is `original` the reply tuple
  // `new_reply` (what the answers to the translated packets carry). False
  // when there is no such flow or a live flow already holds `new_reply`.
  bool rebind(const Tuple& original, const Tuple& new_reply, ConntrackTime now);

  // NAT: the flow whose original tuple is `original` was bound for `manip`
  // (natmanip bit), setting `nat_status` (ctstatus::kSrcNat or kDstNat, or 0
  // when the binding changed nothing) and, for MASQUERADE, its out interface.
  // Records the binding in the journal. Returns the flow as changed.
  std::optional<Flow> note_binding(const Tuple& original, std::uint8_t manip,
                                   std::uint32_t nat_status, std::uint32_t masquerade_ifindex,
                                   ConntrackTime now);
  // NAT: no rule bound the flow whose original tuple is `original` for
  // `manip`: the null binding. A flow with a binding in the journal is
  // recorded again, so that a restart knows this manipulation was decided.
  void note_null_binding(const Tuple& original, std::uint8_t manip, ConntrackTime now);
  // At start: gives a flow adopted from the kernel the binding `stored` that a
  // previous run recorded. The kernel's entry shares one of the bound flow's
  // tuples or midway tuples (it tracks the connection as verdictd hands it the
  // packets); that flow takes the stored tuples, NAT status and manipulations,
  // and is recorded in the journal again. False when the kernel has no such
  // connection, or its tuples are taken by another flow.
  bool restore_binding(const Flow& stored, ConntrackTime now);
  // Where bindings are written down; set before any packet or kernel message
  // is handled. Null: nowhere.
  void set_journal(BindingJournal* journal) { journal_ = journal; }

  // Removes the flow holding `tuple`; false when there was none.
  bool erase(const Tuple& tuple);
  // Removes the flow holding `tuple` only if the kernel has not confirmed it
  // (kernel_id == 0): a dropped first packet takes its flow with it.
  bool erase_unconfirmed(const Tuple& tuple);

  // From the kernel (dump, NEW or UPDATE event, get): adds the flow, or
  // merges it into ours. A flow new to us may have been bound by a previous
  // run of verdictd: its bindings are unknown (Flow::nat_unknown). When a
  // queue has seen its packets, ours keeps its
  // own TCP state, timeout, the status bits the tracker decides
  // (ctstatus::kDecidedHere) and its mark (CONNMARK runs here, and an event
  // older than our write would bring back an old mark); the kernel's other
  // status bits are added, and a disagreement is noted (note_kernel_view).
  // Otherwise ours follows the kernel. A TCP state of kNone means the message
  // did not carry one.
  // Returns whether the table holds the connection now: a full table evicts
  // its oldest flow for it when `may_evict`, and refuses it otherwise.
  bool merge_kernel(const Flow& kernel, ConntrackTime now, bool may_evict = true);
  // Counts the observed flows whose disagreement with the kernel outlasted
  // its grace at `now`, each once, and returns them (to be logged).
  std::vector<Flow> count_lasting_divergences(ConntrackTime now);
  // A DESTROY event: removes the flow holding `original` only if it is the
  // kernel's connection `kernel_id`, so a late DESTROY of an old connection
  // never removes a new one with the same tuple.
  bool erase_kernel(const Tuple& original, std::uint32_t kernel_id);
  // After a full dump that started at `dump_started` (and was merged):
  // removes confirmed flows none of whose tuples is among the dumped flows'
  // tuples, and unconfirmed ones older than `dump_started` minus
  // `grace`. Tuples, not kernel ids: ids are 32 bits and do repeat. Returns
  // how many were removed.
  std::size_t retain_kernel(const std::unordered_set<Tuple, TupleHash>& dumped_tuples,
                            ConntrackTime dump_started, ConntrackTime::duration grace);
  // Original tuples of flows a queue created that the kernel has not confirmed
  // since before `created_before` (to be asked about, then forgotten).
  [[nodiscard]] std::vector<Tuple> unconfirmed_before(ConntrackTime created_before) const;
  // Flows whose mark is waiting to be written to the kernel's entry.
  [[nodiscard]] std::vector<Flow> marks_to_write() const;

  // Forgets MASQUERADE's connections out of `ifindex`: all of them, or those
  // mapped to `address` (nf_nat_masquerade's device and address notifiers).
  std::size_t forget_masqueraded(std::uint32_t ifindex, const std::optional<IpAddress>& address);

  // Removes expired flows; returns how many.
  std::size_t expire(ConntrackTime now);
  // A copy of every live flow, oldest first.
  [[nodiscard]] std::vector<Flow> flows(ConntrackTime now) const;
  // Removes everything (tests, and the mirror before a full resync is not needed).
  void clear();

  [[nodiscard]] FlowTableStats stats() const;

 private:
  static constexpr std::uint32_t kNone = 0xffffffff;
  // How far eviction looks for a flow it may drop, from the oldest.
  static constexpr std::size_t kEvictionScan = 256;

  struct Slot {
    Flow flow;
    std::uint32_t older = kNone;  // creation order, for eviction
    std::uint32_t newer = kNone;
    bool used = false;
    // A translated flow's packets between its destination and its source
    // manipulation (at FORWARD, INPUT, POSTROUTING) carry neither of its two
    // tuples; these find it there. Empty when the flow is not translated.
    std::vector<Tuple> midway;
  };

  // Indexes the midway tuples of the flow in `slot` (after its reply changed).
  void index_midway(std::uint32_t slot);
  void unindex_midway(std::uint32_t slot);

  // The slot and direction of the live flow holding `tuple`; an expired one
  // found on the way is removed. Lock held.
  std::optional<std::pair<std::uint32_t, Direction>> locate(const Tuple& tuple, ConntrackTime now);
  [[nodiscard]] std::optional<std::pair<std::uint32_t, Direction>> locate_live(
      const Tuple& tuple, ConntrackTime now) const;
  bool evict_one();
  // Removes every flow `gone` says is gone; returns how many. Lock held.
  template <class Gone>
  std::size_t remove_if(Gone gone) {
    std::size_t removed = 0;
    for (std::uint32_t slot = oldest_; slot != kNone;) {
      const std::uint32_t next = slots_[slot].newer;
      if (gone(slots_[slot].flow)) {
        remove_slot(slot);
        ++removed;
      }
      slot = next;
    }
    return removed;
  }
  void remove_slot(std::uint32_t slot);
  std::uint32_t add_slot(const Flow& flow);

  std::size_t max_flows_;
  BindingJournal* journal_ = nullptr;
  mutable std::mutex mutex_;
  std::unordered_map<Tuple, std::pair<std::uint32_t, Direction>, TupleHash> index_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint32_t oldest_ = kNone;
  std::uint32_t newest_ = kNone;
  std::size_t live_ = 0;
  std::uint64_t evicted_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t divergences_ = 0;
  // Original tuples of flows whose disagreement with the kernel is in its
  // grace (or was, since: the entries are checked lazily).
  std::unordered_set<Tuple, TupleHash> disagreeing_;
};

}  // namespace verdictd
