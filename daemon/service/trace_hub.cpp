#include "service/trace_hub.hpp"

#include <algorithm>
#include <stdexcept>

#include "pipeline/trace_json.hpp"
#include "text/utf8_escape.hpp"

namespace verdictd {

std::vector<std::string> TraceFollower::take(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, wait, [this] { return !queued_.empty(); });
  std::vector<std::string> records(std::make_move_iterator(queued_.begin()),
                                   std::make_move_iterator(queued_.end()));
  queued_.clear();
  return records;
}

std::uint64_t TraceFollower::lost() const {
  const std::lock_guard lock(mutex_);
  return lost_;
}

void TraceFollower::push(const std::string& record) {
  {
    const std::lock_guard lock(mutex_);
    if (queued_.size() == kMaxQueued) {
      queued_.pop_front();
      ++lost_;
    }
    queued_.push_back(record);
  }
  ready_.notify_one();
}

std::shared_ptr<TraceFollower> TraceHub::follow(std::shared_ptr<const TraceSelector> selector) {
  const std::lock_guard lock(mutex_);
  // Bit 0 is the TRACE rules' (PacketTrace::kTraceRuleReader).
  std::uint64_t used = PacketTrace::kTraceRuleReader;
  for (const Following& f : following_) used |= f.reader;
  if (~used == 0) {
    throw std::runtime_error("too many traces followed at once (" + std::to_string(kMaxFollowers) +
                             "); end one first");
  }
  const std::uint64_t reader = ~used & (used + 1);  // the lowest free bit
  auto follower = std::make_shared<TraceFollower>();
  following_.push_back({follower, std::move(selector), reader});
  rebuild_selections_locked();
  return follower;
}

void TraceHub::unfollow(const std::shared_ptr<TraceFollower>& follower) {
  const std::lock_guard lock(mutex_);
  std::erase_if(following_, [&](const Following& f) { return f.follower == follower; });
  rebuild_selections_locked();
}

void TraceHub::rebuild_selections_locked() {
  auto selections = std::make_shared<Selections>();
  for (const Following& f : following_) {
    if (!f.selector) continue;
    selections->selectors.push_back(f.selector);
    selections->list.push_back({f.selector.get(), f.reader});
  }
  selections_ = std::move(selections);
  active_.store(!following_.empty(), std::memory_order_relaxed);
}

TraceHub::Arrival TraceHub::arrival(std::uint64_t fingerprint,
                                    std::chrono::steady_clock::time_point now) const {
  const std::lock_guard lock(mutex_);
  const Carried& slot = carried_[fingerprint % kCarriedSlots];
  return {selections_, slot.fingerprint == fingerprint && slot.until > now ? slot.readers : 0};
}

void TraceHub::publish(const PacketTrace& trace, const Ruleset& ruleset, std::uint64_t fingerprint,
                       std::chrono::steady_clock::time_point now) {
  nlohmann::ordered_json record = trace_json(trace, ruleset);
  escape_invalid_utf8(record);
  const std::string line = record.dump();
  const std::lock_guard lock(mutex_);
  for (const Following& f : following_) {
    const bool by_rule = !f.selector && (trace.readers & PacketTrace::kTraceRuleReader) != 0;
    if (by_rule || (trace.readers & f.reader) != 0) f.follower->push(line);
  }
  if (trace.accepted) {
    carried_[fingerprint % kCarriedSlots] = {fingerprint, trace.readers, now + kCarried};
  }
}

}  // namespace verdictd
