#include "set/list_set.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "set/set_element.hpp"

namespace verdictd {

namespace {

constexpr SetTime kMillisecondsPerSecond = 1000;

}  // namespace

ListMemberSpec parse_list_member(std::string_view text, const ListSetOptions& options,
                                 ListPosition* position) {
  const auto word_end = [&text](std::size_t from) {
    const std::size_t end = text.find_first_of(" \t", from);
    return end == std::string_view::npos ? text.size() : end;
  };
  const auto skip_space = [&text](std::size_t from) {
    const std::size_t at = text.find_first_not_of(" \t", from);
    return at == std::string_view::npos ? text.size() : at;
  };
  ListMemberSpec spec;
  std::size_t at = skip_space(0);
  std::size_t end = word_end(at);
  if (at == end) throw ElementError("expected a set name", at);
  spec.name = std::string(text.substr(at, end - at));
  at = skip_space(end);
  end = word_end(at);
  const std::string_view side = text.substr(at, end - at);
  if (side == "before" || side == "after") {
    if (position == nullptr) throw ElementError("before and after apply to add, del and test", at);
    const std::size_t reference_at = skip_space(end);
    const std::size_t reference_end = word_end(reference_at);
    if (reference_at == reference_end) {
      throw ElementError("expected a set name after " + std::string(side), reference_at);
    }
    position->side = side == "before" ? ListPosition::Side::kBefore : ListPosition::Side::kAfter;
    position->reference = std::string(text.substr(reference_at, reference_end - reference_at));
    at = reference_end;
  }
  SetElement options_read;
  parse_element_options(text.substr(at), at, false, options_read);
  if (options_read.timeout && !options.timeout) {
    throw ElementError("the set was created without timeout support", 0);
  }
  if ((options_read.packets || options_read.bytes) && !options.counters) {
    throw ElementError("the set was created without counters", 0);
  }
  if (options_read.comment && !options.comment) {
    throw ElementError("the set was created without comment support", 0);
  }
  spec.timeout = options_read.timeout;
  spec.packets = options_read.packets;
  spec.bytes = options_read.bytes;
  spec.comment = options_read.comment;
  return spec;
}

void ListSet::init_extensions(Member& member, const ListMemberSpec& spec, SetTime now) const {
  if (options_.counters) {
    member.packets = spec.packets.value_or(0);
    member.bytes = spec.bytes.value_or(0);
  }
  if (options_.comment) member.comment = spec.comment;
  if (options_.timeout) {
    const std::uint32_t seconds = spec.timeout.value_or(*options_.timeout);
    member.expires = seconds == 0 ? 0 : now + SetTime{seconds} * kMillisecondsPerSecond;
  }
}

void ListSet::drop_expired(SetTime now) {
  std::erase_if(members_, [&](const Member& m) { return expired(m, now); });
}

// list_set_uadd: after the expired members are gone, a member already there
// is an error or, with exist, renewed in place; a new one goes before or
// after its reference, else at the end.
ListSet::Result ListSet::add(std::shared_ptr<IpSet> set, const ListMemberSpec& spec,
                             const ListPosition& position, bool exist, SetTime now) {
  const std::unique_lock lock(mutex_);
  drop_expired(now);
  const auto named = [&](const std::string& name) {
    return std::find_if(members_.begin(), members_.end(),
                        [&name](const Member& m) { return m.name == name; });
  };
  const auto reference =
      position.side == ListPosition::Side::kNone ? members_.end() : named(position.reference);
  if (position.side != ListPosition::Side::kNone && reference == members_.end()) {
    return Result::kNoReference;
  }
  if (const auto same = named(spec.name); same != members_.end()) {
    if (!exist) return Result::kExists;
    init_extensions(*same, spec, now);
    return Result::kDone;
  }
  Member member{};
  member.name = spec.name;
  member.set = std::move(set);
  init_extensions(member, spec, now);
  auto where = members_.end();
  if (position.side == ListPosition::Side::kBefore) where = reference;
  if (position.side == ListPosition::Side::kAfter) where = reference + 1;
  members_.insert(where, std::move(member));
  return Result::kDone;
}

// list_set_udel: with a position, the member must stand just before or
// after its reference.
ListSet::Result ListSet::del(const std::string& name, const ListPosition& position, SetTime now) {
  const std::unique_lock lock(mutex_);
  drop_expired(now);
  const auto found = std::find_if(members_.begin(), members_.end(),
                                  [&name](const Member& m) { return m.name == name; });
  if (found == members_.end()) {
    return position.side == ListPosition::Side::kNone ? Result::kAbsent : Result::kNoReference;
  }
  if (position.side == ListPosition::Side::kBefore &&
      (found + 1 == members_.end() || (found + 1)->name != position.reference)) {
    return Result::kNoReference;
  }
  if (position.side == ListPosition::Side::kAfter &&
      (found == members_.begin() || (found - 1)->name != position.reference)) {
    return Result::kNoReference;
  }
  members_.erase(found);
  return Result::kDone;
}

// list_set_utest: the live members only; "before b" asks whether b follows
// it among them, "after b" whether b precedes it.
bool ListSet::test(const std::string& name, const ListPosition& position, SetTime now) const {
  const std::shared_lock lock(mutex_);
  const Member* previous = nullptr;
  for (auto it = members_.begin(); it != members_.end(); ++it) {
    if (expired(*it, now)) continue;
    if (it->name != name) {
      previous = &*it;
      continue;
    }
    switch (position.side) {
      case ListPosition::Side::kNone:
        return true;
      case ListPosition::Side::kAfter:
        return previous != nullptr && previous->name == position.reference;
      case ListPosition::Side::kBefore: {
        const auto next =
            std::find_if(it + 1, members_.end(), [&](const Member& m) { return !expired(m, now); });
        return next != members_.end() && next->name == position.reference;
      }
    }
  }
  return false;
}

void ListSet::flush() {
  const std::unique_lock lock(mutex_);
  members_.clear();
}

std::vector<ListedElement> ListSet::list(SetTime now) const {
  std::vector<ListedElement> out;
  for (const Member& member : members(now)) {
    ListedElement listed{};
    listed.text = member.name;
    if (options_.timeout) {
      listed.timeout =
          member.expires == 0
              ? 0
              : static_cast<std::uint32_t>((member.expires - now) / kMillisecondsPerSecond);
    }
    if (options_.counters) {
      listed.packets = member.packets;
      listed.bytes = member.bytes;
    }
    listed.comment = member.comment;
    out.push_back(std::move(listed));
  }
  return out;
}

std::vector<ListSet::Member> ListSet::members(SetTime now) const {
  const std::shared_lock lock(mutex_);
  std::vector<Member> out;
  for (Member& member : members_) {
    if (expired(member, now)) continue;
    out.push_back({.name = member.name,
                   .set = member.set,
                   .expires = member.expires,
                   .packets = std::atomic_ref(member.packets).load(std::memory_order_relaxed),
                   .bytes = std::atomic_ref(member.bytes).load(std::memory_order_relaxed),
                   .comment = member.comment});
  }
  return out;
}

void ListSet::restore(Member member) {
  const std::unique_lock lock(mutex_);
  members_.push_back(std::move(member));
}

bool ListSet::first(const std::function<bool(IpSet&)>& visit, SetTime now) const {
  const std::shared_lock lock(mutex_);
  return std::any_of(members_.begin(), members_.end(), [&](const Member& member) {
    return !expired(member, now) && visit(*member.set);
  });
}

bool ListSet::first_matching(const std::function<bool(IpSet&)>& visit, SetTime now,
                             const CounterCondition& counters, std::uint64_t packet_bytes) const {
  const std::shared_lock lock(mutex_);
  for (Member& member : members_) {
    if (!visit(*member.set) || expired(member, now)) continue;
    if (!options_.counters ||
        counters.count_and_compare(member.packets, member.bytes, packet_bytes)) {
      return true;
    }
  }
  return false;
}

std::string list_set_header(const ListSetOptions& options) {
  std::string out = "size " + std::to_string(options.size);
  if (options.timeout) out += " timeout " + std::to_string(*options.timeout);
  if (options.counters) out += " counters";
  if (options.comment) out += " comment";
  return out;
}

}  // namespace verdictd
