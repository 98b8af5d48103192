// The flow table: every tracked connection, reachable by either of its
// tuples, shared by the queue threads and the kernel mirror. Bounded: when
// full, the oldest flow not yet ASSURED, or closing down (TCP FIN_WAIT to
// CLOSE), makes room, as the kernel's early drop does; when there is none
// the new flow is refused.
//
// Sharded, as the kernel's nf_conntrack hash is by its per-bucket locks: a
// tuple's keyed hash (TupleHash, SipHash) picks one of kShards shards, each
// its own lock and index; a flow is a node the index entries of its tuples
// lead to, with its own lock. A lookup or a per-packet change takes one
// shard's lock, then the flow's, and copies nothing it is not asked for.
// What changes the index (inserting, removing, rebinding, expiring,
// evicting, listing) also holds the table's structure lock, one at a time,
// and takes shard locks one after another, never two at once.
// Lock order (structure, shard, flow): daemon/LOCKING.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "conntrack/binding_journal.hpp"
#include "conntrack/flow.hpp"
#include "conntrack/flow_index.hpp"
#include "conntrack/word_lock.hpp"

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
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Runs `visit(const Flow&, Direction)` on the live flow one of whose tuples
  // is `tuple` (expired flows are not found), with the direction of the tuple
  // that matched, under the flow's lock; returns whether there was one.
  // `visit` copies what it needs and must not call the table.
  template <class Visit>
  bool find(const Tuple& tuple, ConntrackTime now, Visit&& visit) const {
    return with_live_flow(
        tuple, now, [&visit](const Flow& flow, Direction direction) { visit(flow, direction); });
  }
  // Runs `change(Flow&, Direction)` on that flow, under its lock; the tuples
  // must not be changed. False when there is no such flow.
  template <class Change>
  bool modify(const Tuple& tuple, ConntrackTime now, Change&& change) {
    return with_live_flow(tuple, now, std::forward<Change>(change));
  }

  struct Found {
    Flow flow;
    Direction direction;  // which of the flow's tuples matched
  };
  // A copy of the flow find() would visit (tests, and the kernel mirror's
  // answer to a fetch); the packet path uses find() and modify().
  [[nodiscard]] std::optional<Found> copy(const Tuple& tuple, ConntrackTime now) const;

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
  // The same for a DESTROY event, except that an unassured TCP flow the
  // queues tracked stays up to kDestroyedResetGrace: the kernel ends it when
  // a reset arrives, before that reset reaches verdictd's hooks.
  bool kernel_destroyed(const Tuple& original, std::uint32_t kernel_id, ConntrackTime now);
  static constexpr ConntrackTime::duration kDestroyedResetGrace = std::chrono::seconds(1);
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
  // Names the helper of the live flow holding `tuple`, when it names none.
  void note_helper(const Tuple& tuple, const HelperName& helper, ConntrackTime now);

 private:
  // A power of two; as many as the kernel has conntrack locks
  // (CONNTRACK_LOCKS is 1024) would only spread a few threads thinner.
  static constexpr std::size_t kShardBits = 8;
  static constexpr std::size_t kShards = std::size_t{1} << kShardBits;
  // How far eviction looks for a flow it may drop, from the oldest.
  static constexpr std::size_t kEvictionScan = 256;

  // alignas: two shards' locks never share a cache line.
  struct alignas(64) Shard {
    mutable WordLock mutex;
    FlowIndex index;
  };

  static std::uint64_t hash_of(const Tuple& tuple) { return TupleHash{}(tuple); }
  Shard& shard_of(std::uint64_t hash) const { return shards_[hash >> (64 - kShardBits)]; }

  template <class Use>
  bool with_live_flow(const Tuple& tuple, ConntrackTime now, Use&& use) const {
    const std::uint64_t hash = hash_of(tuple);
    const Shard& shard = shard_of(hash);
    const std::lock_guard shard_lock(shard.mutex);
    const FlowIndex::Hit hit = shard.index.find(hash, tuple);
    if (hit.node == nullptr) return false;
    const std::lock_guard flow_lock(hit.node->mutex);
    if (hit.node->flow.expires <= now) return false;
    use(hit.node->flow, hit.direction);
    return true;
  }

  // The rest: structure lock held.
  //
  // The node and direction of the flow holding `tuple`, expired or not.
  [[nodiscard]] FlowIndex::Hit lookup(const Tuple& tuple) const;
  // The live flow holding `tuple`; an expired one found on the way is removed.
  FlowIndex::Hit locate(const Tuple& tuple, ConntrackTime now);
  void index(FlowNode* node, TupleRole role);
  void unindex(FlowNode* node, TupleRole role);
  // The own tuples (original, and reply when it differs).
  void index_own(FlowNode* node);
  void unindex_own(FlowNode* node);
  // Indexes the midway tuples of `node` (after its reply changed).
  void index_midway(FlowNode* node);
  void unindex_midway(FlowNode* node);
  FlowNode* add_node(const Flow& flow);
  void remove_node(FlowNode* node);
  bool evict_one();
  // Removes every flow `gone` says is gone (under the flow's lock); returns how many.
  template <class Gone>
  std::size_t remove_if(Gone gone) {
    std::size_t removed = 0;
    for (FlowNode* node = oldest_; node != nullptr;) {
      FlowNode* const next = node->newer;
      bool remove = false;
      {
        const std::lock_guard flow_lock(node->mutex);
        remove = gone(std::as_const(node->flow));
      }
      if (remove) {
        remove_node(node);
        ++removed;
      }
      node = next;
    }
    return removed;
  }

  std::size_t max_flows_;
  BindingJournal* journal_ = nullptr;
  mutable std::array<Shard, kShards> shards_;
  // Guards what follows, and is held by whatever changes an index.
  mutable std::mutex structure_mutex_;
  FlowNode* oldest_ = nullptr;
  FlowNode* newest_ = nullptr;
  std::size_t live_ = 0;
  std::uint64_t evicted_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t divergences_ = 0;
  // Original tuples of flows whose disagreement with the kernel is in its
  // grace (or was, since: the entries are checked lazily).
  std::unordered_set<Tuple, TupleHash> disagreeing_;
};

}  // namespace verdictd
