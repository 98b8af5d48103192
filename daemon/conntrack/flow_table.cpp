#include "conntrack/flow_table.hpp"

#include "conntrack/divergence.hpp"
#include "packet/packet.hpp"

namespace verdictd {

FlowTable::FlowTable(std::size_t max_flows) : max_flows_(max_flows) {}

FlowTable::~FlowTable() {
  for (FlowNode* node = oldest_; node != nullptr;) {
    FlowNode* const next = node->newer;
    delete node;
    node = next;
  }
}

std::optional<FlowTable::Found> FlowTable::copy(const Tuple& tuple, ConntrackTime now) const {
  std::optional<Found> found;
  find(tuple, now, [&found](const Flow& flow, Direction direction) {
    found = Found{flow, direction};
  });
  return found;
}

FlowIndex::Hit FlowTable::lookup(const Tuple& tuple) const {
  const std::uint64_t hash = hash_of(tuple);
  const Shard& shard = shard_of(hash);
  const std::lock_guard shard_lock(shard.mutex);
  return shard.index.find(hash, tuple);
}

FlowIndex::Hit FlowTable::locate(const Tuple& tuple, ConntrackTime now) {
  const FlowIndex::Hit hit = lookup(tuple);
  if (hit.node == nullptr) return hit;
  bool expired = false;
  {
    const std::lock_guard flow_lock(hit.node->mutex);
    expired = hit.node->flow.expires <= now;
  }
  if (!expired) return hit;
  remove_node(hit.node);
  return {};
}

void FlowTable::index(FlowNode* node, TupleRole role) {
  const std::uint64_t hash = hash_of(node->tuple(role));
  Shard& shard = shard_of(hash);
  const std::lock_guard shard_lock(shard.mutex);
  shard.index.insert(hash, node, role);
}

void FlowTable::unindex(FlowNode* node, TupleRole role) {
  const Tuple& tuple = node->tuple(role);
  const std::uint64_t hash = hash_of(tuple);
  Shard& shard = shard_of(hash);
  const std::lock_guard shard_lock(shard.mutex);
  shard.index.erase(hash, tuple, node, role);
}

void FlowTable::index_own(FlowNode* node) {
  index(node, TupleRole::kOriginal);
  // A flow whose tuples are equal (a packet to itself) is found as original.
  if (!(node->flow.reply == node->flow.original)) index(node, TupleRole::kReply);
}

void FlowTable::unindex_own(FlowNode* node) {
  unindex(node, TupleRole::kOriginal);
  unindex(node, TupleRole::kReply);
}

FlowNode* FlowTable::add_node(const Flow& flow) {
  auto* node = new FlowNode;
  node->flow = flow;
  node->older = newest_;
  if (newest_ != nullptr) newest_->newer = node;
  newest_ = node;
  if (oldest_ == nullptr) oldest_ = node;
  ++live_;
  index_own(node);
  return node;
}

namespace {

// The tuple of a translated packet after its destination manipulation and
// before its source one: the original direction's packet has its source
// still and the destination the reply comes from; the reply direction's has
// the reply's source and is bound for the original source. An ICMP query
// keeps the original identifier there.
Tuple midway_tuple(const Flow& flow, Direction direction) {
  const bool original = direction == Direction::kOriginal;
  Tuple midway = original ? flow.original : flow.reply;
  const Tuple& from = original ? flow.reply : flow.original;
  midway.destination = from.source;
  const bool icmp = midway.protocol == ipproto::kIcmp || midway.protocol == ipproto::kIcmpv6;
  if (icmp) {
    midway.source_port = flow.original.source_port;
  } else {
    midway.destination_port = from.source_port;
  }
  return midway;
}

}  // namespace

void FlowTable::index_midway(FlowNode* node) {
  unindex_midway(node);
  // The tuples change while no entry stands for them: under the flow's lock,
  // for whoever reads them through its other entries.
  std::array<Tuple, 2> midway{};
  std::array<Direction, 2> directions{};
  std::uint8_t count = 0;
  for (const Direction direction : {Direction::kOriginal, Direction::kReply}) {
    const Tuple tuple = midway_tuple(node->flow, direction);
    if (tuple == node->flow.original || tuple == node->flow.reply) continue;
    // Another flow's own tuple wins; the midway one is only a second way in.
    if (lookup(tuple).node != nullptr) continue;
    midway[count] = tuple;
    directions[count] = direction;
    ++count;
  }
  {
    const std::lock_guard flow_lock(node->mutex);
    node->midway = midway;
    node->midway_direction = directions;
    node->midway_count = count;
  }
  for (std::uint8_t i = 0; i < count; ++i) {
    index(node, i == 0 ? TupleRole::kMidway0 : TupleRole::kMidway1);
  }
}

void FlowTable::unindex_midway(FlowNode* node) {
  for (std::uint8_t i = 0; i < node->midway_count; ++i) {
    unindex(node, i == 0 ? TupleRole::kMidway0 : TupleRole::kMidway1);
  }
  const std::lock_guard flow_lock(node->mutex);
  node->midway_count = 0;
}

void FlowTable::remove_node(FlowNode* node) {
  unindex_midway(node);
  unindex_own(node);
  // No lookup can reach it any more; whoever found it before has let go of
  // the shard, and with it of the flow.
  if (journal_ != nullptr && node->flow.binding_slot != kNoBindingSlot) {
    journal_->release(node->flow.binding_slot);
  }
  if (node->older != nullptr) {
    node->older->newer = node->newer;
  } else {
    oldest_ = node->newer;
  }
  if (node->newer != nullptr) {
    node->newer->older = node->older;
  } else {
    newest_ = node->older;
  }
  delete node;
  --live_;
}

namespace {

// What the kernel may drop to make room (early_drop, and gc_worker's
// can_early_drop): a flow not yet assured, or a TCP connection closing down.
bool evictable(const Flow& flow) {
  if ((flow.status & (ctstatus::kAssured | ctstatus::kDying)) != ctstatus::kAssured) return true;
  if (flow.original.protocol != ipproto::kTcp) return false;
  switch (flow.tcp_state) {
    case TcpState::kFinWait:
    case TcpState::kCloseWait:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
    case TcpState::kClose:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool FlowTable::evict_one() {
  FlowNode* node = oldest_;
  for (std::size_t scanned = 0; node != nullptr && scanned < kEvictionScan; ++scanned) {
    bool drop = false;
    {
      const std::lock_guard flow_lock(node->mutex);
      drop = evictable(node->flow);
    }
    if (drop) {
      remove_node(node);
      ++evicted_;
      return true;
    }
    node = node->newer;
  }
  return false;
}

FlowTable::Insert FlowTable::insert(const Flow& flow, ConntrackTime now) {
  const std::lock_guard lock(structure_mutex_);
  if (locate(flow.original, now).node != nullptr || locate(flow.reply, now).node != nullptr) {
    return Insert::kExists;
  }
  if (live_ >= max_flows_ && !evict_one()) {
    ++refused_;
    return Insert::kFull;
  }
  add_node(flow);
  return Insert::kInserted;
}

bool FlowTable::erase(const Tuple& tuple) {
  const std::lock_guard lock(structure_mutex_);
  const FlowIndex::Hit hit = lookup(tuple);
  if (hit.node == nullptr) return false;
  remove_node(hit.node);
  return true;
}

bool FlowTable::erase_unconfirmed(const Tuple& tuple) {
  const std::lock_guard lock(structure_mutex_);
  const FlowIndex::Hit hit = lookup(tuple);
  if (hit.node == nullptr) return false;
  {
    const std::lock_guard flow_lock(hit.node->mutex);
    if (hit.node->flow.kernel_id != 0) return false;
  }
  remove_node(hit.node);
  return true;
}

bool FlowTable::merge_kernel(const Flow& kernel, ConntrackTime now, bool may_evict) {
  const std::lock_guard lock(structure_mutex_);
  FlowIndex::Hit located = locate(kernel.original, now);
  if (located.node == nullptr) located = locate(kernel.reply, now);
  if (located.node == nullptr) {
    if (live_ >= max_flows_ && !(may_evict && evict_one())) {
      ++refused_;
      return false;
    }
    Flow added = kernel;
    added.observed = false;
    added.status |= ctstatus::kConfirmed;
    added.nat_unknown = natmanip::kBoth;
    note_kernel_view(added, kernel, now);  // agreeing: it is the kernel's
    add_node(added);
    return true;
  }
  const std::lock_guard flow_lock(located.node->mutex);
  Flow& ours = located.node->flow;
  ours.kernel_id = kernel.kernel_id;
  if (kernel.helper[0] != '\0') ours.helper = kernel.helper;
  if (ours.observed) {
    ours.status |= (kernel.status & ~ctstatus::kDecidedHere) | ctstatus::kConfirmed;
  } else {
    ours.mark = kernel.mark;
    if (kernel.tcp_state != TcpState::kNone) ours.tcp_state = kernel.tcp_state;
    ours.expires = kernel.expires;
    // The kernel sees a connection we translate untranslated: our NAT bits stay.
    ours.status = kernel.status | (ours.status & ctstatus::kNat) | ctstatus::kConfirmed;
  }
  // A flow that follows the kernel agrees; it keeps the kernel's last TCP
  // state for when a queue sees its packets.
  if (note_kernel_view(ours, kernel, now)) disagreeing_.insert(ours.original);
  return true;
}

void FlowTable::note_helper(const Tuple& tuple, const HelperName& helper, ConntrackTime now) {
  if (helper[0] == '\0') return;
  modify(tuple, now, [&](Flow& flow, Direction /*direction*/) {
    if (flow.helper[0] == '\0') flow.helper = helper;
  });
}

std::vector<Flow> FlowTable::count_lasting_divergences(ConntrackTime now) {
  const std::lock_guard lock(structure_mutex_);
  std::vector<Flow> lasting;
  for (auto it = disagreeing_.begin(); it != disagreeing_.end();) {
    const FlowIndex::Hit hit = lookup(*it);
    std::optional<Divergence> divergence;
    if (hit.node != nullptr) {
      const std::lock_guard flow_lock(hit.node->mutex);
      Flow& flow = hit.node->flow;
      if (flow.expires > now) {
        divergence = check_divergence(flow, now);
        if (divergence == Divergence::kLasting) lasting.push_back(flow);
      }
    }
    if (divergence == Divergence::kInGrace) {
      ++it;
      continue;
    }
    if (divergence == Divergence::kLasting) ++divergences_;
    it = disagreeing_.erase(it);
  }
  return lasting;
}

bool FlowTable::rebind(const Tuple& original, const Tuple& new_reply, ConntrackTime now) {
  const std::lock_guard lock(structure_mutex_);
  const FlowIndex::Hit located = locate(original, now);
  if (located.node == nullptr || located.direction != Direction::kOriginal) return false;
  FlowNode* const node = located.node;
  if (new_reply == node->flow.reply) return true;
  // The flow's own midway tuples may be the new reply: they go first.
  unindex_midway(node);
  if (locate(new_reply, now).node != nullptr) {
    index_midway(node);
    return false;
  }
  unindex(node, TupleRole::kReply);
  {
    const std::lock_guard flow_lock(node->mutex);
    node->flow.reply = new_reply;
  }
  index(node, TupleRole::kReply);
  index_midway(node);
  return true;
}

std::optional<Flow> FlowTable::note_binding(const Tuple& original, std::uint8_t manip,
                                            std::uint32_t nat_status,
                                            std::uint32_t masquerade_ifindex, ConntrackTime now) {
  const std::lock_guard lock(structure_mutex_);
  const FlowIndex::Hit located = locate(original, now);
  if (located.node == nullptr) return std::nullopt;
  const std::lock_guard flow_lock(located.node->mutex);
  Flow& flow = located.node->flow;
  flow.status |= nat_status;
  flow.nat_done |= manip;
  if (masquerade_ifindex != 0) flow.masquerade_ifindex = masquerade_ifindex;
  if (journal_ != nullptr) flow.binding_slot = journal_->record(flow);
  return flow;
}

void FlowTable::note_null_binding(const Tuple& original, std::uint8_t manip, ConntrackTime now) {
  const std::lock_guard lock(structure_mutex_);
  const FlowIndex::Hit located = locate(original, now);
  if (located.node == nullptr) return;
  const std::lock_guard flow_lock(located.node->mutex);
  Flow& flow = located.node->flow;
  flow.nat_done |= manip;
  if (journal_ != nullptr && flow.binding_slot != kNoBindingSlot) {
    flow.binding_slot = journal_->record(flow);
  }
}

bool FlowTable::restore_binding(const Flow& stored, ConntrackTime now) {
  const std::lock_guard lock(structure_mutex_);
  FlowIndex::Hit located;
  for (const Tuple& tuple :
       {stored.original, stored.reply, midway_tuple(stored, Direction::kOriginal),
        midway_tuple(stored, Direction::kReply)}) {
    located = locate(tuple, now);
    if (located.node != nullptr) break;
  }
  FlowNode* const node = located.node;
  if (node == nullptr) return false;
  // The stored tuples must be free, or the kernel's flow's own.
  for (const Tuple& tuple : {stored.original, stored.reply}) {
    const FlowIndex::Hit holder = locate(tuple, now);
    if (holder.node != nullptr && holder.node != node) return false;
  }
  unindex_midway(node);
  unindex_own(node);
  {
    const std::lock_guard flow_lock(node->mutex);
    Flow& flow = node->flow;
    flow.original = stored.original;
    flow.reply = stored.reply;
    flow.status = (flow.status & ~ctstatus::kNat) | (stored.status & ctstatus::kNat);
    flow.nat_done = stored.nat_done;
    flow.masquerade_ifindex = stored.masquerade_ifindex;
    // Manipulations not yet done when the binding was recorded stay unknown.
    flow.nat_unknown = natmanip::kBoth & ~stored.nat_done;
  }
  index_own(node);
  index_midway(node);
  if (journal_ != nullptr) {
    const std::lock_guard flow_lock(node->mutex);
    node->flow.binding_slot = journal_->record(node->flow);
  }
  return true;
}

bool FlowTable::erase_kernel(const Tuple& original, std::uint32_t kernel_id) {
  const std::lock_guard lock(structure_mutex_);
  const FlowIndex::Hit hit = lookup(original);
  if (hit.node == nullptr) return false;
  {
    const std::lock_guard flow_lock(hit.node->mutex);
    if (hit.node->flow.kernel_id != kernel_id) return false;
  }
  remove_node(hit.node);
  return true;
}

bool FlowTable::kernel_destroyed(const Tuple& original, std::uint32_t kernel_id,
                                 ConntrackTime now) {
  {
    const std::lock_guard lock(structure_mutex_);
    const FlowIndex::Hit hit = lookup(original);
    if (hit.node == nullptr) return false;
    const std::lock_guard flow_lock(hit.node->mutex);
    Flow& flow = hit.node->flow;
    if (flow.kernel_id != kernel_id) return false;
    // A reset ends an unassured TCP connection in the kernel at once
    // (nf_conntrack_tcp_packet's nf_ct_kill_acct), as the reset enters the
    // host: the reset still has its hooks to pass with its connection, and
    // the event may come before verdictd's queue has it.
    // It keeps its kernel id: it is no unconfirmed flow to ask the kernel
    // about, and a dump that no longer lists it sweeps it.
    if (flow.observed && flow.original.protocol == ipproto::kTcp &&
        (flow.status & ctstatus::kAssured) == 0) {
      flow.expires = std::min(flow.expires, now + kDestroyedResetGrace);
      return true;
    }
  }
  return erase_kernel(original, kernel_id);
}

std::size_t FlowTable::retain_kernel(const std::unordered_set<Tuple, TupleHash>& dumped_tuples,
                                     ConntrackTime dump_started, ConntrackTime::duration grace) {
  const std::lock_guard lock(structure_mutex_);
  return remove_if([&](const Flow& flow) {
    // A flow we translate (NAT) shares only one tuple with the kernel's, or
    // (translated both ways) only its midway tuples.
    const bool dumped = dumped_tuples.contains(flow.original) ||
                        dumped_tuples.contains(flow.reply) ||
                        dumped_tuples.contains(midway_tuple(flow, Direction::kOriginal));
    return flow.kernel_id != 0 ? !dumped : flow.created < dump_started - grace;
  });
}

std::vector<Tuple> FlowTable::unconfirmed_before(ConntrackTime created_before) const {
  const std::lock_guard lock(structure_mutex_);
  std::vector<Tuple> tuples;
  // Creation order: stop at the first flow that is too young.
  for (const FlowNode* node = oldest_; node != nullptr; node = node->newer) {
    const std::lock_guard flow_lock(node->mutex);
    const Flow& flow = node->flow;
    if (flow.created >= created_before) break;
    if (flow.kernel_id == 0) tuples.push_back(flow.original);
  }
  return tuples;
}

std::vector<Flow> FlowTable::marks_to_write() const {
  const std::lock_guard lock(structure_mutex_);
  std::vector<Flow> flows;
  for (const FlowNode* node = oldest_; node != nullptr; node = node->newer) {
    const std::lock_guard flow_lock(node->mutex);
    if (node->flow.mark_unsynced) flows.push_back(node->flow);
  }
  return flows;
}

std::size_t FlowTable::expire(ConntrackTime now) {
  const std::lock_guard lock(structure_mutex_);
  return remove_if([now](const Flow& flow) { return flow.expires <= now; });
}

std::size_t FlowTable::forget_masqueraded(std::uint32_t ifindex,
                                          const std::optional<IpAddress>& address) {
  const std::lock_guard lock(structure_mutex_);
  return remove_if([&](const Flow& flow) {
    // The mapped address is where the answers go: the reply's destination.
    return flow.masquerade_ifindex == ifindex && (!address || flow.reply.destination == *address);
  });
}

std::vector<Flow> FlowTable::flows(ConntrackTime now) const {
  const std::lock_guard lock(structure_mutex_);
  std::vector<Flow> flows;
  flows.reserve(live_);
  for (const FlowNode* node = oldest_; node != nullptr; node = node->newer) {
    const std::lock_guard flow_lock(node->mutex);
    if (node->flow.expires > now) flows.push_back(node->flow);
  }
  return flows;
}

void FlowTable::clear() {
  const std::lock_guard lock(structure_mutex_);
  while (oldest_ != nullptr) remove_node(oldest_);
  disagreeing_.clear();
}

FlowTableStats FlowTable::stats() const {
  const std::lock_guard lock(structure_mutex_);
  return {.flows = live_,
          .max_flows = max_flows_,
          .evicted = evicted_,
          .refused = refused_,
          .divergences = divergences_};
}

}  // namespace verdictd
