#include "conntrack/expectations.hpp"

#include <algorithm>

namespace verdictd {

namespace {

bool masked_equal(const IpAddress& a, const IpAddress& b, const IpAddress& mask) {
  for (std::size_t i = 0; i < a.bytes.size(); ++i) {
    if (((a.bytes[i] ^ b.bytes[i]) & mask.bytes[i]) != 0) return false;
  }
  return true;
}

// The kernel's nf_ct_tuple_mask_cmp: family, protocol and destination exact,
// source address and port under the mask.
bool expected(const Expectation& e, const Tuple& t) {
  return t.family == e.tuple.family && t.protocol == e.tuple.protocol && t.zone == e.tuple.zone &&
         t.destination == e.tuple.destination && t.destination_port == e.tuple.destination_port &&
         masked_equal(t.source, e.tuple.source, e.mask.source) &&
         ((t.source_port ^ e.tuple.source_port) & e.mask.source_port) == 0;
}

}  // namespace

void Expectations::add(const Expectation& expectation) {
  const std::lock_guard lock(mutex_);
  std::erase_if(expectations_,
                [&](const Expectation& e) { return e.kernel_id == expectation.kernel_id; });
  std::erase_if(removed_by_kernel_,
                [&](const Removed& r) { return r.expectation.kernel_id == expectation.kernel_id; });
  expectations_.push_back(expectation);
}

void Expectations::remove(std::uint32_t kernel_id, ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  std::erase_if(removed_by_kernel_, [&](const Removed& r) { return r.until <= now; });
  const auto it = std::find_if(expectations_.begin(), expectations_.end(),
                               [&](const Expectation& e) { return e.kernel_id == kernel_id; });
  if (it == expectations_.end()) return;  // taken here first, or never known
  if (it->expires > now) {
    removed_by_kernel_.push_back(Removed{*it, std::min(it->expires, now + kTakenByKernelGrace)});
  }
  expectations_.erase(it);
}

void Expectations::clear() {
  const std::lock_guard lock(mutex_);
  expectations_.clear();
  removed_by_kernel_.clear();
}

std::optional<Expectation> Expectations::take(const Tuple& tuple, ConntrackTime now) {
  const std::lock_guard lock(mutex_);
  std::erase_if(expectations_, [&](const Expectation& e) { return e.expires <= now; });
  std::erase_if(removed_by_kernel_, [&](const Removed& r) { return r.until <= now; });
  const auto live = std::find_if(expectations_.begin(), expectations_.end(),
                                 [&](const Expectation& e) { return expected(e, tuple); });
  if (live != expectations_.end()) {
    Expectation found = *live;
    expectations_.erase(live);
    return found;
  }
  const auto removed =
      std::find_if(removed_by_kernel_.begin(), removed_by_kernel_.end(),
                   [&](const Removed& r) { return expected(r.expectation, tuple); });
  if (removed == removed_by_kernel_.end()) return std::nullopt;
  Expectation found = removed->expectation;
  removed_by_kernel_.erase(removed);
  return found;
}

std::size_t Expectations::size() const {
  const std::lock_guard lock(mutex_);
  return expectations_.size();
}

}  // namespace verdictd
