#include "set/list_set.hpp"

#include <algorithm>
#include <mutex>

namespace verdictd {

ListSet::AddResult ListSet::add(Member member) {
  const std::unique_lock lock(mutex_);
  const auto same = [&member](const Member& m) { return m.name == member.name; };
  if (std::any_of(members_.begin(), members_.end(), same)) return AddResult::kExists;
  members_.push_back(std::move(member));
  return AddResult::kAdded;
}

bool ListSet::del(const std::string& name) {
  const std::unique_lock lock(mutex_);
  const auto found = std::find_if(members_.begin(), members_.end(),
                                  [&name](const Member& m) { return m.name == name; });
  if (found == members_.end()) return false;
  members_.erase(found);
  return true;
}

bool ListSet::contains(const std::string& name) const {
  const std::shared_lock lock(mutex_);
  return std::any_of(members_.begin(), members_.end(),
                     [&name](const Member& m) { return m.name == name; });
}

void ListSet::flush() {
  const std::unique_lock lock(mutex_);
  members_.clear();
}

std::vector<std::string> ListSet::names() const {
  const std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  out.reserve(members_.size());
  for (const Member& member : members_) out.push_back(member.name);
  return out;
}

bool ListSet::first(const std::function<bool(IpSet&)>& visit) const {
  const std::shared_lock lock(mutex_);
  return std::any_of(members_.begin(), members_.end(),
                     [&visit](const Member& member) { return visit(*member.set); });
}

std::string list_set_header(std::uint32_t size) { return "size " + std::to_string(size); }

}  // namespace verdictd
