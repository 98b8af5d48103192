// The routes of a small host for the tests of addrtype and rpfilter, as
// `ip route show table all` would list them: lo (1), eth0 (2) with
// 192.0.2.1/24 and 2001:db8:1::1/64, eth1 (3) with 198.51.100.1/24 and
// 2001:db8:2::1/64, the default routes through eth0, an unreachable and a
// blackhole prefix.
#pragma once

#include <string>

#include "packet/routes.hpp"

namespace verdictd::test {

constexpr std::uint32_t kLo = 1;
constexpr std::uint32_t kEth0 = 2;
constexpr std::uint32_t kEth1 = 3;

inline Route route(const char* prefix, std::uint8_t type, std::uint32_t table,
                   std::vector<std::uint32_t> devices, bool gateway = false,
                   std::uint32_t metric = 0) {
  return {.destination = *IpPrefix::parse(prefix),
          .type = type,
          .table = table,
          .metric = metric,
          .has_gateway = gateway,
          .devices = std::move(devices)};
}

inline void add_host_routes(RoutingTable& table) {
  using namespace route_type;
  constexpr std::uint32_t kLocalTable = 255;
  constexpr std::uint32_t kMain = 254;
  for (const Route& r : {
           route("127.0.0.0/8", kLocal, kLocalTable, {kLo}),
           route("127.0.0.1", kLocal, kLocalTable, {kLo}),
           route("127.255.255.255", kBroadcast, kLocalTable, {kLo}),
           route("192.0.2.1", kLocal, kLocalTable, {kEth0}),
           route("192.0.2.255", kBroadcast, kLocalTable, {kEth0}),
           route("198.51.100.1", kLocal, kLocalTable, {kEth1}),
           route("198.51.100.255", kBroadcast, kLocalTable, {kEth1}),
           route("192.0.2.0/24", kUnicast, kMain, {kEth0}),
           route("198.51.100.0/24", kUnicast, kMain, {kEth1}),
           route("0.0.0.0/0", kUnicast, kMain, {kEth0}, true),
           route("203.0.113.0/24", kUnreachable, kMain, {}),
           route("10.99.0.0/16", kBlackhole, kMain, {}),
           route("::1", kLocal, kLocalTable, {kLo}),
           route("2001:db8:1::1", kLocal, kLocalTable, {kEth0}),
           route("2001:db8:2::1", kLocal, kLocalTable, {kEth1}),
           route("fe80::1", kLocal, kLocalTable, {kEth0}),
           route("2001:db8:1::", kAnycast, kLocalTable, {kEth0}),
           route("ff00::/8", kMulticast, kLocalTable, {kEth0}, false, 256),
           route("2001:db8:1::/64", kUnicast, kMain, {kEth0}, false, 256),
           route("2001:db8:2::/64", kUnicast, kMain, {kEth1}, false, 256),
           route("fe80::/64", kUnicast, kMain, {kEth0}, false, 256),
           route("fe80::/64", kUnicast, kMain, {kEth1}, false, 256),
           route("2001:db8:dead::/48", kUnreachable, kMain, {kLo}, false, 1024),
           route("::/0", kUnicast, kMain, {kEth0}, true, 1024),
       }) {
    table.add(r);
  }
}

}  // namespace verdictd::test
