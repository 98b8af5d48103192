#include "conntrack/flow_table.hpp"

#include "conntrack/divergence.hpp"

namespace verdictd {

FlowTable::FlowTable(std::size_t max_flows) : max_flows_(max_flows) {}

std::optional<std::pair<std::uint32_t, Direction>> FlowTable::locate_live(const Tuple& tuple,
                                                                          ConntrackTime now) const {
  const auto it = index_.find(tuple);
  if (it == index_.end() || slots_[it->second.first].flow.expires <= now) return std::nullopt;
  return it->second;
}

std::optional<std::pair<std::uint32_t, Direction>> FlowTable::locate(const Tuple& tuple,
                                                                     ConntrackTime now) {
  const auto it = index_.find(tuple);
  if (it == index_.end()) return std::nullopt;
  const auto found = it->second;
  if (slots_[found.first].flow.expires <= now) {
    remove_slot(found.first);
    return std::nullopt;
  }
  return found;
}

std::optional<FlowTable::Found> FlowTable::find(const Tuple& tuple, ConntrackTime now) const {
  const std::lock_guard lock(mutex_);
  const auto located = locate_live(tuple, now);
  if (!located) return std::nullopt;
  return Found{slots_[located->first].flow, located->second};
}

std::uint32_t FlowTable::add_slot(const Flow& flow) {
  std::uint32_t slot = 0;
  if (free_slots_.empty()) {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& s = slots_[slot];
  s.flow = flow;
  s.used = true;
  s.older = newest_;
  s.newer = kNone;
  if (newest_ != kNone) slots_[newest_].newer = slot;
  newest_ = slot;
  if (oldest_ == kNone) oldest_ = slot;
  index_[flow.original] = {slot, Direction::kOriginal};
  // A flow whose tuples are equal (a packet to itself) is found as original.
  if (!(flow.reply == flow.original)) index_[flow.reply] = {slot, Direction::kReply};
  ++live_;
  return slot;
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

void FlowTable::index_midway(std::uint32_t slot) {
  unindex_midway(slot);
  Slot& s = slots_[slot];
  for (const Direction direction : {Direction::kOriginal, Direction::kReply}) {
    const Tuple midway = midway_tuple(s.flow, direction);
    if (midway == s.flow.original || midway == s.flow.reply) continue;
    // Another flow's own tuple wins; the midway one is only a second way in.
    if (index_.try_emplace(midway, slot, direction).second) s.midway.push_back(midway);
  }
}

void FlowTable::unindex_midway(std::uint32_t slot) {
  for (const Tuple& midway : slots_[slot].midway) index_.erase(midway);
  slots_[slot].midway.clear();
}

void FlowTable::remove_slot(std::uint32_t slot) {
  Slot& s = slots_[slot];
  if (journal_ != nullptr && s.flow.binding_slot != kNoBindingSlot) {
    journal_->release(s.flow.binding_slot);
  }
  unindex_midway(slot);
  index_.erase(s.flow.original);
  index_.erase(s.flow.reply);
  if (s.older != kNone) {
    slots_[s.older].newer = s.newer;
  } else {
    oldest_ = s.newer;
  }
  if (s.newer != kNone) {
    slots_[s.newer].older = s.older;
  } else {
    newest_ = s.older;
  }
  s = Slot{};
  free_slots_.push_back(slot);
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
  std::uint32_t slot = oldest_;
  for (std::size_t scanned = 0; slot != kNone && scanned < kEvictionScan; ++scanned) {
    if (evictable(slots_[slot].flow)) {
      remove_slot(slot);
      ++evicted_;
      return true;
    }
    slot = slots_[slot].newer;
  }
  return false;
}

FlowTable::Insert FlowTable::insert(const Flow& flow, ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  if (locate(flow.original, now) || locate(flow.reply, now)) return Insert::kExists;
  if (live_ >= max_flows_ && !evict_one()) {
    ++refused_;
    return Insert::kFull;
  }
  add_slot(flow);
  return Insert::kInserted;
}

bool FlowTable::erase(const Tuple& tuple) {
  const std::lock_guard lock(mutex_);
  const auto it = index_.find(tuple);
  if (it == index_.end()) return false;
  remove_slot(it->second.first);
  return true;
}

bool FlowTable::erase_unconfirmed(const Tuple& tuple) {
  const std::lock_guard lock(mutex_);
  const auto it = index_.find(tuple);
  if (it == index_.end() || slots_[it->second.first].flow.kernel_id != 0) return false;
  remove_slot(it->second.first);
  return true;
}

bool FlowTable::merge_kernel(const Flow& kernel, ConntrackTime now, bool may_evict) {
  const std::lock_guard lock(mutex_);
  auto located = locate(kernel.original, now);
  if (!located) located = locate(kernel.reply, now);
  if (!located) {
    if (live_ >= max_flows_ && !(may_evict && evict_one())) {
      ++refused_;
      return false;
    }
    Flow added = kernel;
    added.observed = false;
    added.status |= ctstatus::kConfirmed;
    added.nat_unknown = natmanip::kBoth;
    note_kernel_view(added, kernel, now);  // agreeing: it is the kernel's
    add_slot(added);
    return true;
  }
  Flow& ours = slots_[located->first].flow;
  ours.kernel_id = kernel.kernel_id;
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

std::vector<Flow> FlowTable::count_lasting_divergences(ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  std::vector<Flow> lasting;
  for (auto it = disagreeing_.begin(); it != disagreeing_.end();) {
    const auto located = locate_live(*it, now);
    if (!located) {
      it = disagreeing_.erase(it);
      continue;
    }
    Flow& flow = slots_[located->first].flow;
    switch (check_divergence(flow, now)) {
      case Divergence::kInGrace:
        ++it;
        continue;
      case Divergence::kLasting:
        ++divergences_;
        lasting.push_back(flow);
        break;
      case Divergence::kNone:
        break;
    }
    it = disagreeing_.erase(it);
  }
  return lasting;
}

bool FlowTable::rebind(const Tuple& original, const Tuple& new_reply, ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  const auto located = locate(original, now);
  if (!located || located->second != Direction::kOriginal) return false;
  Flow& flow = slots_[located->first].flow;
  if (new_reply == flow.reply) return true;
  // The flow's own midway tuples may be the new reply: they go first.
  unindex_midway(located->first);
  if (locate(new_reply, now)) {
    index_midway(located->first);
    return false;
  }
  index_.erase(flow.reply);
  flow.reply = new_reply;
  index_[new_reply] = {located->first, Direction::kReply};
  index_midway(located->first);
  return true;
}

std::optional<Flow> FlowTable::note_binding(const Tuple& original, std::uint8_t manip,
                                            std::uint32_t nat_status,
                                            std::uint32_t masquerade_ifindex, ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  const auto located = locate(original, now);
  if (!located) return std::nullopt;
  Flow& flow = slots_[located->first].flow;
  flow.status |= nat_status;
  flow.nat_done |= manip;
  if (masquerade_ifindex != 0) flow.masquerade_ifindex = masquerade_ifindex;
  if (journal_ != nullptr) flow.binding_slot = journal_->record(flow);
  return flow;
}

void FlowTable::note_null_binding(const Tuple& original, std::uint8_t manip, ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  const auto located = locate(original, now);
  if (!located) return;
  Flow& flow = slots_[located->first].flow;
  flow.nat_done |= manip;
  if (journal_ != nullptr && flow.binding_slot != kNoBindingSlot) {
    flow.binding_slot = journal_->record(flow);
  }
}

bool FlowTable::restore_binding(const Flow& stored, ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  std::optional<std::pair<std::uint32_t, Direction>> located;
  for (const Tuple& tuple :
       {stored.original, stored.reply, midway_tuple(stored, Direction::kOriginal),
        midway_tuple(stored, Direction::kReply)}) {
    located = locate(tuple, now);
    if (located) break;
  }
  if (!located) return false;
  const std::uint32_t slot = located->first;
  // The stored tuples must be free, or the kernel's flow's own.
  for (const Tuple& tuple : {stored.original, stored.reply}) {
    const auto holder = locate(tuple, now);
    if (holder && holder->first != slot) return false;
  }
  Flow& flow = slots_[slot].flow;
  unindex_midway(slot);
  index_.erase(flow.original);
  index_.erase(flow.reply);
  flow.original = stored.original;
  flow.reply = stored.reply;
  flow.status = (flow.status & ~ctstatus::kNat) | (stored.status & ctstatus::kNat);
  flow.nat_done = stored.nat_done;
  flow.masquerade_ifindex = stored.masquerade_ifindex;
  // Manipulations not yet done when the binding was recorded stay unknown.
  flow.nat_unknown = natmanip::kBoth & ~stored.nat_done;
  index_[flow.original] = {slot, Direction::kOriginal};
  if (!(flow.reply == flow.original)) index_[flow.reply] = {slot, Direction::kReply};
  index_midway(slot);
  if (journal_ != nullptr) flow.binding_slot = journal_->record(flow);
  return true;
}

bool FlowTable::erase_kernel(const Tuple& original, std::uint32_t kernel_id) {
  const std::lock_guard lock(mutex_);
  const auto it = index_.find(original);
  if (it == index_.end() || slots_[it->second.first].flow.kernel_id != kernel_id) return false;
  remove_slot(it->second.first);
  return true;
}

std::size_t FlowTable::retain_kernel(const std::unordered_set<Tuple, TupleHash>& dumped_tuples,
                                     ConntrackTime dump_started, ConntrackTime::duration grace) {
  const std::lock_guard lock(mutex_);
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
  const std::lock_guard lock(mutex_);
  std::vector<Tuple> tuples;
  // Creation order: stop at the first flow that is too young.
  for (std::uint32_t slot = oldest_; slot != kNone; slot = slots_[slot].newer) {
    const Flow& flow = slots_[slot].flow;
    if (flow.created >= created_before) break;
    if (flow.kernel_id == 0) tuples.push_back(flow.original);
  }
  return tuples;
}

std::vector<Flow> FlowTable::marks_to_write() const {
  const std::lock_guard lock(mutex_);
  std::vector<Flow> flows;
  for (std::uint32_t slot = oldest_; slot != kNone; slot = slots_[slot].newer) {
    if (slots_[slot].flow.mark_unsynced) flows.push_back(slots_[slot].flow);
  }
  return flows;
}

std::size_t FlowTable::expire(ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  return remove_if([now](const Flow& flow) { return flow.expires <= now; });
}

std::size_t FlowTable::forget_masqueraded(std::uint32_t ifindex,
                                          const std::optional<IpAddress>& address) {
  const std::lock_guard lock(mutex_);
  return remove_if([&](const Flow& flow) {
    // The mapped address is where the answers go: the reply's destination.
    return flow.masquerade_ifindex == ifindex && (!address || flow.reply.destination == *address);
  });
}

std::vector<Flow> FlowTable::flows(ConntrackTime now) const {
  const std::lock_guard lock(mutex_);
  std::vector<Flow> flows;
  flows.reserve(live_);
  for (std::uint32_t slot = oldest_; slot != kNone; slot = slots_[slot].newer) {
    if (slots_[slot].flow.expires > now) flows.push_back(slots_[slot].flow);
  }
  return flows;
}

void FlowTable::clear() {
  const std::lock_guard lock(mutex_);
  for (std::uint32_t slot = oldest_; slot != kNone; slot = slots_[slot].newer) {
    if (journal_ != nullptr && slots_[slot].flow.binding_slot != kNoBindingSlot) {
      journal_->release(slots_[slot].flow.binding_slot);
    }
  }
  index_.clear();
  slots_.clear();
  free_slots_.clear();
  oldest_ = newest_ = kNone;
  live_ = 0;
  disagreeing_.clear();
}

FlowTableStats FlowTable::stats() const {
  const std::lock_guard lock(mutex_);
  return {.flows = live_,
          .max_flows = max_flows_,
          .evicted = evicted_,
          .refused = refused_,
          .divergences = divergences_};
}

}  // namespace verdictd
