#include "packet/routes.hpp"

#include <algorithm>
#include <tuple>

namespace verdictd {

namespace {

constexpr std::uint32_t kTableDefault = 253;  // RT_TABLE_DEFAULT
constexpr std::uint32_t kTableMain = 254;     // RT_TABLE_MAIN
constexpr std::uint32_t kTableLocal = 255;    // RT_TABLE_LOCAL

IpAddress masked(IpAddress address, int length) {
  for (std::size_t i = 0; i < address.size(); ++i) {
    const int bits = std::clamp(length - static_cast<int>(i) * 8, 0, 8);
    address.bytes[i] &= static_cast<std::uint8_t>(0xff00U >> bits);
  }
  return address;
}

// The error routes: the lookup stops at them and fails (fib_props[].error).
bool rejects(const Route& route) {
  return route.type == route_type::kBlackhole || route.type == route_type::kUnreachable ||
         route.type == route_type::kProhibit || route.type == route_type::kThrow;
}

bool uses(const Route& route, std::uint32_t ifindex) {
  return std::find(route.devices.begin(), route.devices.end(), ifindex) != route.devices.end();
}

// The same route for a change notification: IPv4's identity of a FIB alias
// (prefix, TOS, priority) in one table; IPv6 has a route per device at one
// metric (fe80::/64 on each interface).
bool same_key(const Route& a, const Route& b) {
  return a.table == b.table && a.tos == b.tos && a.metric == b.metric &&
         (a.destination.address.family == Family::kIPv4 || a.devices == b.devices);
}

// The order the kernel tries routes of one prefix: IPv4's alias list
// (fib_find_alias: local table first, then TOS decreasing, then priority),
// IPv6's leaf list (by metric).
bool tried_before(const Route& a, const Route& b) {
  return std::tuple(-static_cast<std::int64_t>(a.table), -a.tos, a.metric) <
         std::tuple(-static_cast<std::int64_t>(b.table), -b.tos, b.metric);
}

}  // namespace

void RoutingTable::add(const Route& route) {
  auto& routes = tables_[{route.destination.address.family, route.table}][route.destination.length]
                        [route.destination.address];
  std::erase_if(routes, [&](const Route& r) { return same_key(r, route); });
  routes.insert(std::upper_bound(routes.begin(), routes.end(), route, tried_before), route);
}

void RoutingTable::remove(const Route& route) {
  const auto found = tables_.find({route.destination.address.family, route.table});
  if (found == tables_.end()) return;
  const auto length = found->second.find(route.destination.length);
  if (length == found->second.end()) return;
  const auto prefix = length->second.find(route.destination.address);
  if (prefix == length->second.end()) return;
  std::erase_if(prefix->second, [&](const Route& r) { return same_key(r, route); });
  if (prefix->second.empty()) length->second.erase(prefix);
  if (length->second.empty()) found->second.erase(length);
}

std::size_t RoutingTable::size() const {
  std::size_t count = 0;
  for (const auto& [key, by_prefix] : tables_) {
    for (const auto& [length, prefixes] : by_prefix) {
      for (const auto& [address, routes] : prefixes) count += routes.size();
    }
  }
  return count;
}

const RoutingTable::ByPrefix* RoutingTable::table(Family family, std::uint32_t id) const {
  const auto found = tables_.find({family, id});
  return found == tables_.end() ? nullptr : &found->second;
}

// fib_table_lookup: the longest prefix first; at each, the first route that
// fits (its TOS, a live nexthop) ends the lookup, an error route failing it.
RouteResult RoutingTable::lookup_v4(std::initializer_list<std::uint32_t> tables,
                                    const RouteQuery& query) const {
  std::vector<const ByPrefix*> tries;
  for (const std::uint32_t id : tables) {
    if (const ByPrefix* t = table(Family::kIPv4, id)) tries.push_back(t);
  }
  for (int length = 32; length >= 0; --length) {
    const IpAddress prefix = masked(query.destination, length);
    std::vector<const Route*> candidates;
    for (const ByPrefix* t : tries) {
      const auto at_length = t->find(length);
      if (at_length == t->end()) continue;
      const auto routes = at_length->second.find(prefix);
      if (routes == at_length->second.end()) continue;
      for (const Route& r : routes->second) candidates.push_back(&r);
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Route* a, const Route* b) { return tried_before(*a, *b); });
    for (const Route* r : candidates) {
      if (r->tos != 0 && r->tos != query.tos) continue;
      if (rejects(*r)) return std::nullopt;
      if (!r->devices.empty()) return *r;
    }
  }
  return std::nullopt;
}

// fib6_table_lookup / ip6_pol_route_lookup in one table: the longest prefix
// with routes; among them the first of the output device when one is asked
// (rt6_device_match), else, unless strict, the first; none: a shorter prefix
// (fib6_backtrack).
RouteResult RoutingTable::lookup_v6(std::uint32_t id, const RouteQuery& query) const {
  const ByPrefix* t = table(Family::kIPv6, id);
  if (t == nullptr) return std::nullopt;
  for (const auto& [length, prefixes] : *t) {
    const auto routes = prefixes.find(masked(query.destination, length));
    if (routes == prefixes.end()) continue;
    const auto& list = routes->second;
    const auto live = [](const Route& r) { return !r.devices.empty(); };
    auto chosen = query.oif == 0 ? std::find_if(list.begin(), list.end(), live)
                                 : std::find_if(list.begin(), list.end(),
                                                [&](const Route& r) { return uses(r, query.oif); });
    if (chosen == list.end() && query.oif != 0 && !query.strict && live(list.front())) {
      chosen = list.begin();
    }
    if (chosen != list.end()) return *chosen;
  }
  return std::nullopt;
}

RouteResult RoutingTable::lookup(const RouteQuery& query) const {
  if (query.destination.family == Family::kIPv4) {
    // fib_lookup without rules of one's own: main (merged with local), then
    // the default table when that fails.
    if (auto found = lookup_v4({kTableLocal, kTableMain}, query)) return found;
    return lookup_v4({kTableDefault}, query);
  }
  // The default rules: local, then main; a table without a route, or ending
  // in a throw route, hands over to the next (fib6_rule_action).
  for (const std::uint32_t id : {kTableLocal, kTableMain}) {
    auto found = lookup_v6(id, query);
    if (!found || found->type == route_type::kThrow) continue;
    if (rejects(*found)) return std::nullopt;
    return found;
  }
  return std::nullopt;
}

RouteResult RoutingTable::lookup_local_table(const IpAddress& destination) const {
  return lookup_v4({kTableLocal, kTableMain}, {.destination = destination});
}

bool RoutingTable::is_address_of(std::uint32_t ifindex, const IpAddress& address) const {
  const ByPrefix* t = table(address.family, kTableLocal);
  if (t == nullptr) return false;
  const auto host = t->find(static_cast<int>(address.size()) * 8);
  if (host == t->end()) return false;
  const auto routes = host->second.find(address);
  return routes != host->second.end() &&
         std::any_of(routes->second.begin(), routes->second.end(), [&](const Route& r) {
           return r.type == route_type::kLocal && uses(r, ifindex);
         });
}

}  // namespace verdictd
