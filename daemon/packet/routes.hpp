// The kernel's routes as addrtype and rpfilter ask about them: the FIB
// lookup of a destination (fib_table_lookup for IPv4, fib6_table_lookup for
// IPv6) over the local and main tables the daemon mirrors from rtnetlink.
// Policy routing rules (ip rule) are not followed: IPv4 looks in the local
// and main tables as one (the kernel merges them while no rule was added)
// and then in the default table; IPv6 in the local table, then the main one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "packet/address.hpp"

namespace verdictd {

// One route: rtmsg and its attributes.
struct Route {
  IpPrefix destination;
  std::uint8_t type = 1;     // RTN_* (RTN_UNICAST)
  std::uint32_t table = 0;   // RT_TABLE_* or RTA_TABLE
  std::uint32_t metric = 0;  // RTA_PRIORITY
  std::uint8_t tos = 0;      // rtm_tos (IPv4)
  bool has_gateway = false;  // RTA_GATEWAY or a nexthop with one
  // The devices of its nexthops (RTA_OIF, or each of RTA_MULTIPATH's), live
  // ones only (not RTNH_F_DEAD); empty for a route without a device.
  std::vector<std::uint32_t> devices;
};

// rtm_type values (linux/rtnetlink.h), for the pure code that reads them.
namespace route_type {
inline constexpr std::uint8_t kUnspec = 0;
inline constexpr std::uint8_t kUnicast = 1;
inline constexpr std::uint8_t kLocal = 2;
inline constexpr std::uint8_t kBroadcast = 3;
inline constexpr std::uint8_t kAnycast = 4;
inline constexpr std::uint8_t kMulticast = 5;
inline constexpr std::uint8_t kBlackhole = 6;
inline constexpr std::uint8_t kUnreachable = 7;
inline constexpr std::uint8_t kProhibit = 8;
inline constexpr std::uint8_t kThrow = 9;
}  // namespace route_type

// What a lookup asks: the destination, and for IPv6 an output device the
// route must use when `strict` (RT6_LOOKUP_F_IFACE), or prefer otherwise.
struct RouteQuery {
  IpAddress destination;
  std::uint32_t oif = 0;
  bool strict = false;
  std::uint8_t tos = 0;  // IPv4: routes with a TOS of their own need it
};

// The route found, or nullopt when the lookup fails: no route, or a reject
// route (blackhole, unreachable, prohibit; throw with nothing after it),
// whose error the kernel returns.
using RouteResult = std::optional<Route>;

// Asked by the matches; the daemon's route cache answers, under its lock.
class RouteLookup {
 public:
  RouteLookup() = default;
  RouteLookup(const RouteLookup&) = delete;
  RouteLookup& operator=(const RouteLookup&) = delete;
  RouteLookup(RouteLookup&&) = delete;
  RouteLookup& operator=(RouteLookup&&) = delete;
  virtual ~RouteLookup() = default;

  // The kernel's lookup over the tables named above (fib_lookup,
  // ip6_route_output / ip6_route_lookup).
  [[nodiscard]] virtual RouteResult lookup(const RouteQuery& query) const = 0;
  // Only the IPv4 local table (merged with main, as above): what
  // inet_dev_addr_type looks in.
  [[nodiscard]] virtual RouteResult lookup_local_table(const IpAddress& destination) const = 0;
  // True when `address` is an IPv6 address of `ifindex` (its local route;
  // nf_ipv6_chk_addr with strict: only that device's addresses).
  [[nodiscard]] virtual bool is_address_of(std::uint32_t ifindex,
                                           const IpAddress& address) const = 0;
};

// The routes themselves, with the lookups; the route cache keeps one, and
// the unit tests build one.
class RoutingTable final : public RouteLookup {
 public:
  // A route with the same key (table, prefix, TOS, metric; for IPv6 also
  // its devices) replaces the one there, as a change notification does.
  void add(const Route& route);
  void remove(const Route& route);
  void clear() { tables_.clear(); }
  [[nodiscard]] std::size_t size() const;

  [[nodiscard]] RouteResult lookup(const RouteQuery& query) const override;
  [[nodiscard]] RouteResult lookup_local_table(const IpAddress& destination) const override;
  [[nodiscard]] bool is_address_of(std::uint32_t ifindex, const IpAddress& address) const override;

 private:
  // Routes by prefix length, longest first, then by prefix; at one prefix in
  // the order the kernel tries them (TOS, metric).
  using ByPrefix = std::map<int, std::map<IpAddress, std::vector<Route>>, std::greater<>>;
  struct TableKey {
    Family family;
    std::uint32_t table;
    // clang-tidy 14 mistakes the defaulted comparison for a literal 0.
    // NOLINTNEXTLINE(modernize-use-nullptr)
    friend auto operator<=>(const TableKey&, const TableKey&) = default;
  };

  // One table set looked up as one trie (IPv4's merged local and main).
  [[nodiscard]] RouteResult lookup_v4(std::initializer_list<std::uint32_t> tables,
                                      const RouteQuery& query) const;
  [[nodiscard]] RouteResult lookup_v6(std::uint32_t table, const RouteQuery& query) const;
  [[nodiscard]] const ByPrefix* table(Family family, std::uint32_t id) const;

  std::map<TableKey, ByPrefix> tables_;
};

}  // namespace verdictd
