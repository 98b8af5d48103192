// ipset's list:set: a set whose members are other sets, by name and in
// order (ip_set_list_set.c). The set match tests the packet against each
// member in turn and matches on the first member that matches; the SET
// target adds to the first member that takes the packet and deletes from
// the first that held it. Members are sets of the ruleset's other types,
// never list:sets. Lives in the state store beside the ruleset under the
// set's name, as an IpSet does, so `verdictctl set add|del` on it survives
// a reload.
//
// Locking: a reader-writer lock over the member list. The match and target
// hold it shared while they work on a member (whose own lock is then taken:
// always list, then member, and members are never lists, so no cycle);
// add, del and flush take it exclusively.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "extension/extension_state.hpp"
#include "set/ip_set.hpp"

namespace verdictd {

// The kernel's default size and the least it takes (IP_SET_LIST_DEFAULT_SIZE,
// IP_SET_LIST_MIN_SIZE); the size is shown and saved, it limits nothing.
inline constexpr std::uint32_t kDefaultListSize = 8;
inline constexpr std::uint32_t kMinListSize = 4;

// A list:set as declared: its size and its members' names, in order.
struct ListDeclaration {
  std::uint32_t size = kDefaultListSize;
  std::vector<std::string> members;
};

class ListSet final : public ExtensionState {
 public:
  struct Member {
    std::string name;
    std::shared_ptr<IpSet> set;
  };
  enum class AddResult : std::uint8_t { kAdded, kExists };

  ListSet(std::string name, std::uint32_t size) : name_(std::move(name)), size_(size) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint32_t size() const { return size_; }

  // Appends a member, as `ipset add LIST SET` does.
  AddResult add(Member member);
  // False when `name` is no member.
  bool del(const std::string& name);
  [[nodiscard]] bool contains(const std::string& name) const;
  void flush();
  [[nodiscard]] std::vector<std::string> names() const;
  // Calls `visit` on each member in order until it returns true; true if
  // one did (list_set_ktest, list_set_kadd, list_set_kdel).
  bool first(const std::function<bool(IpSet&)>& visit) const;

 private:
  std::string name_;
  std::uint32_t size_;
  mutable std::shared_mutex mutex_;
  std::vector<Member> members_;
};

// The create line's options: "size 8".
std::string list_set_header(std::uint32_t size);

}  // namespace verdictd
