#include "kernel/address_cache.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <mutex>
#include <tuple>
#include <utility>

namespace verdictd {

namespace {

// IPv6 scopes as the kernel ranks them for source selection
// (__ipv6_addr_src_scope): wider is larger.
constexpr int kScopeHost = 1;
constexpr int kScopeLink = 2;
constexpr int kScopeSite = 5;
constexpr int kScopeGlobal = 14;

struct AddressAttributes {
  const nlattr* local = nullptr;
  const nlattr* address = nullptr;
  std::uint32_t flags = 0;
  bool has_flags = false;
};

// mnl_attr_parse callback: picks the attributes an InterfaceAddress needs.
int collect_attribute(const nlattr* attribute, void* data) {
  auto& found = *static_cast<AddressAttributes*>(data);
  switch (mnl_attr_get_type(attribute)) {
    case IFA_LOCAL:
      found.local = attribute;
      break;
    case IFA_ADDRESS:
      found.address = attribute;
      break;
    case IFA_FLAGS:  // the 32-bit flags; ifa_flags holds only the low 8
      if (mnl_attr_validate(attribute, MNL_TYPE_U32) < 0) return MNL_CB_ERROR;
      found.flags = mnl_attr_get_u32(attribute);
      found.has_flags = true;
      break;
    default:
      break;
  }
  return MNL_CB_OK;
}

std::optional<IpAddress> read_address(const nlattr* attribute, Family family) {
  if (attribute == nullptr) return std::nullopt;
  const auto* payload = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attribute));
  const std::size_t length = mnl_attr_get_payload_len(attribute);
  if (family == Family::kIPv4 && length == 4) return IpAddress::from_v4(payload);
  if (family == Family::kIPv6 && length == 16) return IpAddress::from_v6(payload);
  return std::nullopt;
}

struct AddressEvent {
  std::uint32_t ifindex = 0;
  Family family = Family::kIPv4;
  InterfaceAddress address;
};

std::optional<AddressEvent> parse_address(const nlmsghdr* message) {
  if (message->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return std::nullopt;
  const auto* header = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(message));
  Family family = Family::kIPv4;
  if (header->ifa_family == AF_INET6) {
    family = Family::kIPv6;
  } else if (header->ifa_family != AF_INET) {
    return std::nullopt;
  }
  AddressAttributes found;
  if (mnl_attr_parse(message, sizeof(ifaddrmsg), collect_attribute, &found) < 0) {
    return std::nullopt;
  }
  // IFA_LOCAL appears only beside a peer (IFA_ADDRESS) on point-to-point links.
  auto local = read_address(found.local, family);
  auto address = read_address(found.address, family);
  if (!local) local = address;
  if (!address) address = local;
  if (!local) return std::nullopt;
  return AddressEvent{.ifindex = header->ifa_index,
                      .family = family,
                      .address = {.local = *local,
                                  .address = *address,
                                  .prefix_length = header->ifa_prefixlen,
                                  .scope = header->ifa_scope,
                                  .flags = found.has_flags ? found.flags : header->ifa_flags}};
}

// The kernel's identity of an address on one interface: IPv4 by local
// address, prefix and subnet (find_matching_ifa), IPv6 by address.
bool same_address(const InterfaceAddress& a, const InterfaceAddress& b, Family family) {
  if (family == Family::kIPv6) return a.local == b.local;
  return a.local == b.local && a.prefix_length == b.prefix_length && a.address == b.address;
}

auto& list_of(auto& interface, Family family) {
  return family == Family::kIPv4 ? interface.ipv4 : interface.ipv6;
}

// Puts a new or changed address where the kernel's list has it. IPv4
// (__inet_insert_ifa): a primary goes after the last primary of the same or
// a wider scope, a secondary at the end; a promoted secondary moves as a new
// primary would (__inet_del_ifa). IPv6 (ipv6_link_dev_addr): before the
// first address of the same or a narrower scope, so the newest comes first.
void place(std::vector<InterfaceAddress>& list, const InterfaceAddress& address, Family family) {
  const auto same = std::find_if(list.begin(), list.end(), [&](const InterfaceAddress& a) {
    return same_address(a, address, family);
  });
  if (same != list.end()) {
    if (family == Family::kIPv6 || ((same->flags ^ address.flags) & IFA_F_SECONDARY) == 0) {
      *same = address;
      return;
    }
    list.erase(same);
  }
  if (family == Family::kIPv6) {
    const auto before = std::find_if(list.begin(), list.end(), [&](const InterfaceAddress& a) {
      return address.scope <= a.scope;  // RT_SCOPE_*: a smaller number is wider
    });
    list.insert(before, address);
    return;
  }
  if ((address.flags & IFA_F_SECONDARY) != 0) {
    list.push_back(address);
    return;
  }
  auto after = list.begin();
  for (auto a = list.begin(); a != list.end(); ++a) {
    if ((a->flags & IFA_F_SECONDARY) == 0 && a->scope <= address.scope) after = a + 1;
  }
  list.insert(after, address);
}

bool remove(std::vector<InterfaceAddress>& list, const InterfaceAddress& address, Family family) {
  return std::erase_if(
             list, [&](const InterfaceAddress& a) { return same_address(a, address, family); }) > 0;
}

bool same_prefix(const IpAddress& a, const IpAddress& b, int length) {
  const auto whole = static_cast<std::size_t>(length / 8);
  if (std::memcmp(a.bytes.data(), b.bytes.data(), whole) != 0) return false;
  const int rest = length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff00U >> static_cast<unsigned>(rest));
  return ((a.bytes[whole] ^ b.bytes[whole]) & mask) == 0;
}

int common_prefix_length(const IpAddress& a, const IpAddress& b) {
  int length = 0;
  for (std::size_t i = 0; i < a.bytes.size(); ++i) {
    const auto differ = static_cast<std::uint8_t>(a.bytes[i] ^ b.bytes[i]);
    if (differ != 0) return length + std::countl_zero(differ);
    length += 8;
  }
  return length;
}

int ipv6_scope(const IpAddress& a) {
  const auto& b = a.bytes;
  if (b[0] == 0xff) return b[1] & 0x0f;  // multicast: the scope field
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return kScopeLink;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return kScopeSite;
  constexpr std::array<std::uint8_t, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (b == kLoopback) return kScopeHost;
  return kScopeGlobal;
}

bool is_v4_mapped(const IpAddress& a) {
  constexpr std::array<std::uint8_t, 12> kPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(kPrefix.begin(), kPrefix.end(), a.bytes.begin());
}

bool usable_ipv6(const InterfaceAddress& a) {
  const bool tentative = (a.flags & IFA_F_TENTATIVE) != 0 && (a.flags & IFA_F_OPTIMISTIC) == 0;
  return !tentative && (a.flags & IFA_F_DADFAILED) == 0 && !is_v4_mapped(a.local);
}

}  // namespace

AddressCache::AddressCache()
    : reader_({.protocol = NETLINK_ROUTE,
               .groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
               .dump_types = {RTM_GETADDR},
               .dump_header = sizeof(ifaddrmsg),
               .changes = "address changes",
               .table = "the addresses",
               .followed = "interface addresses are no longer followed"},
              {.dump_begins = [this] { dumped_.clear(); },
               .message = [this](const nlmsghdr& message, bool from_dump,
                                 bool also_dumped) { apply(message, from_dump, also_dumped); },
               .dump_complete = [this] { reconcile(); },
               .applied = [this] { notify(); },
               .events_lost = {},
               .failed = {},
               .tick = {}}) {}

AddressCache::~AddressCache() { stop(); }

void AddressCache::on_address_removed(AddressRemoved callback) {
  address_removed_ = std::move(callback);
}

void AddressCache::on_interface_down(InterfaceDown callback) {
  interface_down_ = std::move(callback);
}

void AddressCache::start() { reader_.start(); }

void AddressCache::stop() { reader_.stop(); }

std::optional<IpAddress> AddressCache::masquerade_address(std::uint32_t ifindex, Family family,
                                                          const IpAddress& next_hop) const {
  const std::shared_lock lock(mutex_);
  const auto out = interfaces_.find(ifindex);
  if (family == Family::kIPv4) {
    std::optional<IpAddress> first;
    if (out != interfaces_.end()) {
      for (const InterfaceAddress& a : out->second.ipv4) {
        if ((a.flags & IFA_F_SECONDARY) != 0 || a.scope != RT_SCOPE_UNIVERSE) continue;
        if (next_hop == IpAddress{} || same_prefix(next_hop, a.address, a.prefix_length)) {
          return a.local;
        }
        if (!first) first = a.local;
      }
    }
    if (first) return first;
    for (const auto& [index, interface] : interfaces_) {
      for (const InterfaceAddress& a : interface.ipv4) {
        if ((a.flags & IFA_F_SECONDARY) == 0 && a.scope == RT_SCOPE_UNIVERSE) return a.local;
      }
    }
    return std::nullopt;
  }

  // RFC 6724 rules 1 (the destination itself), 2 (appropriate scope), 3
  // (avoid deprecated), 5 (the outgoing interface), 7 (public before
  // temporary) and 8 (longest matching prefix, up to the address's prefix
  // length), in that order; on a tie the first found stays.
  const int destination_scope = ipv6_scope(next_hop);
  const bool only_out = next_hop.bytes[0] == 0xff || destination_scope <= kScopeLink;
  using Score = std::tuple<bool, bool, int, bool, bool, bool, int>;
  std::optional<Score> best_score;
  std::optional<IpAddress> best;
  for (const auto& [index, interface] : interfaces_) {
    const bool outgoing = index == ifindex;
    if (only_out && !outgoing) continue;
    for (const InterfaceAddress& a : interface.ipv6) {
      if (!usable_ipv6(a) || a.local.bytes[0] == 0xff) continue;
      const int scope = ipv6_scope(a.local);
      const bool wide_enough = scope >= destination_scope;
      const Score score{a.local == next_hop,
                        wide_enough,
                        wide_enough ? -scope : scope,
                        (a.flags & IFA_F_DEPRECATED) == 0,
                        outgoing,
                        (a.flags & IFA_F_TEMPORARY) == 0,
                        std::min<int>(common_prefix_length(a.local, next_hop), a.prefix_length)};
      if (!best_score || score > *best_score) {
        best_score = score;
        best = a.local;
      }
    }
  }
  return best;
}

std::optional<IpAddress> AddressCache::redirect_address(std::uint32_t ifindex, Family family,
                                                        const IpAddress& destination) const {
  const std::shared_lock lock(mutex_);
  const auto in = interfaces_.find(ifindex);
  if (in == interfaces_.end()) return std::nullopt;
  if (family == Family::kIPv4) {
    if (in->second.ipv4.empty()) return std::nullopt;
    return in->second.ipv4.front().local;
  }
  // Only a destination of host, link or site scope asks for the same scope.
  const int scope = ipv6_scope(destination);
  const bool scoped = scope == kScopeHost || scope == kScopeLink || scope == kScopeSite;
  for (const InterfaceAddress& a : in->second.ipv6) {
    if (!usable_ipv6(a)) continue;
    if (scoped && ipv6_scope(a.local) != scope) continue;
    return a.local;
  }
  return std::nullopt;
}

bool AddressCache::is_subnet_broadcast(std::uint32_t ifindex, const IpAddress& address) const {
  const std::shared_lock lock(mutex_);
  const auto found = interfaces_.find(ifindex);
  if (found == interfaces_.end()) return false;
  return std::any_of(found->second.ipv4.begin(), found->second.ipv4.end(),
                     [&](const InterfaceAddress& a) {
                       // fib_add_ifaddr: the subnet of IFA_ADDRESS (the peer's on a
                       // point-to-point link).
                       return subnet_broadcast(a.address, a.prefix_length) == address;
                     });
}

std::vector<InterfaceAddress> AddressCache::addresses(std::uint32_t ifindex, Family family) const {
  const std::shared_lock lock(mutex_);
  const auto found = interfaces_.find(ifindex);
  if (found == interfaces_.end()) return {};
  return list_of(found->second, family);
}

void AddressCache::notify() {
  for (const std::uint32_t index : downed_) {
    if (interface_down_) interface_down_(index);
  }
  for (const auto& [index, address] : removed_) {
    if (address_removed_) address_removed_(index, address);
  }
  downed_.clear();
  removed_.clear();
}

void AddressCache::apply_link(const nlmsghdr& message) {
  if (message.nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return;
  const auto* link = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&message));
  const auto index = static_cast<std::uint32_t>(link->ifi_index);
  const bool up = message.nlmsg_type == RTM_NEWLINK && (link->ifi_flags & IFF_UP) != 0;
  // Links are not dumped: one first heard of when down is taken to have been
  // up (the kernel forgot its connections then, so telling again is harmless).
  const auto known = link_up_.find(index);
  if (!up && (known == link_up_.end() || known->second)) downed_.push_back(index);
  if (message.nlmsg_type == RTM_DELLINK) {
    link_up_.erase(index);
    const std::unique_lock lock(mutex_);
    interfaces_.erase(index);
    dumped_.erase(index);
  } else {
    link_up_[index] = up;
  }
}

void AddressCache::reconcile() {
  const std::unique_lock lock(mutex_);
  // What a resynchronisation no longer finds was removed unseen.
  for (const auto& [index, interface] : interfaces_) {
    const auto now = dumped_.find(index);
    for (const Family family : {Family::kIPv4, Family::kIPv6}) {
      for (const InterfaceAddress& a : list_of(interface, family)) {
        const bool kept =
            now != dumped_.end() &&
            std::any_of(list_of(now->second, family).begin(), list_of(now->second, family).end(),
                        [&](const InterfaceAddress& b) { return same_address(a, b, family); });
        if (!kept) removed_.emplace_back(index, a.local);
      }
    }
  }
  interfaces_.swap(dumped_);
  dumped_.clear();
}

void AddressCache::apply(const nlmsghdr& message, bool from_dump, bool also_dumped) {
  if (message.nlmsg_type == RTM_NEWLINK || message.nlmsg_type == RTM_DELLINK) {
    apply_link(message);
    return;
  }
  if (message.nlmsg_type != RTM_NEWADDR && message.nlmsg_type != RTM_DELADDR) return;
  const auto event = parse_address(&message);
  if (!event) return;
  const std::unique_lock lock(mutex_);
  if (from_dump) {  // a dump lists the addresses in the kernel's order
    list_of(dumped_[event->ifindex], event->family).push_back(event->address);
    return;
  }
  if (message.nlmsg_type == RTM_DELADDR) {
    const auto found = interfaces_.find(event->ifindex);
    if (found != interfaces_.end() &&
        remove(list_of(found->second, event->family), event->address, event->family)) {
      removed_.emplace_back(event->ifindex, event->address.local);
    }
    const auto dumped = dumped_.find(event->ifindex);
    if (also_dumped && dumped != dumped_.end()) {
      remove(list_of(dumped->second, event->family), event->address, event->family);
    }
    return;
  }
  place(list_of(interfaces_[event->ifindex], event->family), event->address, event->family);
  if (also_dumped) {
    place(list_of(dumped_[event->ifindex], event->family), event->address, event->family);
  }
}

}  // namespace verdictd
