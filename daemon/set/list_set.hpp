// ipset's list:set: a set whose members are other sets, by name and in
// order (ip_set_list_set.c). The set match tests the packet against each
// member in turn and matches on the first member that matches; the SET
// target adds to the first member that takes the packet and deletes from
// the first that held it. Members are sets of the ruleset's other types,
// never list:sets. Lives in the state store beside the ruleset under the
// set's name, as an IpSet does, so `verdictctl set add|del` on it survives
// a reload.
//
// A list:set created with timeout, counters or comment gives each member
// its own: a member whose timeout passed is skipped by everything and
// removed by the next add or delete (set_cleanup_entries); a member's
// counters count the packets it matched, and the set match compares them
// with its --packets/--bytes conditions (ip_set_match_extensions).
//
// Locking: a reader-writer lock over the member list. The match and target
// hold it shared while they work on a member (whose own lock is then taken:
// always list, then member, and members are never lists, so no cycle);
// add, del and flush take it exclusively. Counters change under the shared
// lock, atomically.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "extension/extension_state.hpp"
#include "set/ip_set.hpp"

namespace verdictd {

// The kernel's default size and the least it takes (IP_SET_LIST_DEFAULT_SIZE,
// IP_SET_LIST_MIN_SIZE); the size is shown and saved, it limits nothing.
inline constexpr std::uint32_t kDefaultListSize = 8;
inline constexpr std::uint32_t kMinListSize = 4;

// The create line's options: "size 8 timeout 600 counters comment".
struct ListSetOptions {
  std::uint32_t size = kDefaultListSize;
  std::optional<std::uint32_t> timeout;  // seconds; members then expire
  bool counters = false;
  bool comment = false;
};

// A member as an add line or a declaration writes it: "b timeout 30
// packets 1 bytes 60 comment \"x\"".
struct ListMemberSpec {
  std::string name;
  std::optional<std::uint32_t> timeout;  // seconds, 0: never; else the set's
  std::optional<std::uint64_t> packets;
  std::optional<std::uint64_t> bytes;
  std::optional<std::string> comment;
};

// "before b" or "after b" after a member's name in add, del and test.
struct ListPosition {
  enum class Side : std::uint8_t { kNone, kBefore, kAfter };
  Side side = Side::kNone;
  std::string reference;
};

// A list:set as declared: its options and its members, in order.
struct ListDeclaration {
  ListSetOptions options;
  std::vector<ListMemberSpec> members;
};

// "b before a timeout 30 comment \"x\"" (a position only where `position`
// is given); throws ElementError, refusing what `options` lack.
ListMemberSpec parse_list_member(std::string_view text, const ListSetOptions& options,
                                 ListPosition* position);

class ListSet final : public ExtensionState {
 public:
  struct Member {
    std::string name;
    std::shared_ptr<IpSet> set;
    SetTime expires = 0;  // 0: never
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::optional<std::string> comment;
  };
  // What an add, del or test found (list_set_uadd, list_set_udel and their
  // errors): done, the member already there (add) or not there (del), or
  // the position's reference not where it was asked to be.
  enum class Result : std::uint8_t { kDone, kExists, kAbsent, kNoReference };

  ListSet(std::string name, ListSetOptions options) : name_(std::move(name)), options_(options) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const ListSetOptions& options() const { return options_; }

  // `ipset add LIST SET [before|after REF] [options]`; `exist` renews a
  // member already there (its timeout, counters and comment as given).
  Result add(std::shared_ptr<IpSet> set, const ListMemberSpec& spec, const ListPosition& position,
             bool exist, SetTime now);
  Result del(const std::string& name, const ListPosition& position, SetTime now);
  // Whether `name` is a live member (and stands where `position` says).
  [[nodiscard]] bool test(const std::string& name, const ListPosition& position, SetTime now) const;
  void flush();
  // The live members in order, as `ipset list` shows them.
  [[nodiscard]] std::vector<ListedElement> list(SetTime now) const;
  // The live members in order, with their state (a reload carries them).
  [[nodiscard]] std::vector<Member> members(SetTime now) const;
  // Appends a member with its state as it is (a reload's carried member).
  void restore(Member member);

  // The packet path. list_set_kadd, list_set_kdel: `visit` on each live
  // member in order until it returns true; true if one did.
  bool first(const std::function<bool(IpSet&)>& visit, SetTime now) const;
  // list_set_ktest: true at the first live member `visit` matches whose
  // own counters, when the list counts, pass `counters` (updated unless
  // counters.update is false).
  bool first_matching(const std::function<bool(IpSet&)>& visit, SetTime now,
                      const CounterCondition& counters, std::uint64_t packet_bytes) const;

 private:
  [[nodiscard]] bool expired(const Member& member, SetTime now) const {
    return options_.timeout && member.expires != 0 && member.expires <= now;
  }
  // The member's timeout, counters and comment from `spec`.
  void init_extensions(Member& member, const ListMemberSpec& spec, SetTime now) const;
  void drop_expired(SetTime now);  // under the exclusive lock

  std::string name_;
  ListSetOptions options_;
  mutable std::shared_mutex mutex_;
  // Mutable: the match counts into its members under the shared lock.
  mutable std::vector<Member> members_;
};

// The create line's options: "size 8 timeout 600 counters comment".
std::string list_set_header(const ListSetOptions& options);

}  // namespace verdictd
