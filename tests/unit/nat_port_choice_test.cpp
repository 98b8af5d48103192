#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <unordered_set>

#include "nat/port_choice.hpp"

namespace verdictd {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

Tuple udp_tuple(const char* source, std::uint16_t source_port, const char* destination,
                std::uint16_t destination_port) {
  const IpAddress from = ip(source);
  return Tuple{.family = from.family,
               .protocol = ipproto::kUdp,
               .source = from,
               .destination = ip(destination),
               .source_port = source_port,
               .destination_port = destination_port};
}

PortChoice port_choice(std::uint8_t protocol, ManipSide side, std::uint16_t original) {
  PortChoice request;
  request.protocol = protocol;
  request.side = side;
  request.original = original;
  return request;
}

PortChoice source_port(std::uint16_t original) {
  return port_choice(ipproto::kTcp, ManipSide::kSource, original);
}

constexpr auto kNothingTaken = [](std::uint16_t) { return false; };

TEST(NatPortChoice, KeepsTheOriginalPortWhenItIsFree) {
  EXPECT_EQ(choose_port(source_port(40000), kNothingTaken), 40000);
  EXPECT_EQ(choose_port(source_port(80), kNothingTaken), 80);
  PortChoice in_range = source_port(5000);
  in_range.range = NatPortRange{4000, 6000};
  EXPECT_EQ(choose_port(in_range, kNothingTaken), 5000);
}

TEST(NatPortChoice, SearchesTheOriginalPortsClassWhenItIsTaken) {
  struct Case {
    std::uint16_t original;
    unsigned low;
    unsigned high;
  };
  for (const Case c : {Case{80, 1, 511}, Case{0, 1, 511}, Case{511, 1, 511}, Case{512, 600, 1023},
                       Case{700, 600, 1023}, Case{1023, 600, 1023}, Case{1024, 1024, 65535},
                       Case{50000, 1024, 65535}}) {
    for (int round = 0; round < 200; ++round) {
      const auto port =
          choose_port(source_port(c.original), [&](std::uint16_t p) { return p == c.original; });
      ASSERT_TRUE(port.has_value());
      EXPECT_NE(*port, c.original);
      EXPECT_GE(*port, c.low) << c.original;
      EXPECT_LE(*port, c.high) << c.original;
    }
  }
}

TEST(NatPortChoice, StaysWithinTheRulesRange) {
  PortChoice request = source_port(40000);
  request.range = NatPortRange{2000, 2010};
  std::set<std::uint16_t> seen;
  for (int round = 0; round < 500; ++round) {
    const auto port = choose_port(request, kNothingTaken);
    ASSERT_TRUE(port.has_value());
    EXPECT_GE(*port, 2000);
    EXPECT_LE(*port, 2010);
    seen.insert(*port);
  }
  EXPECT_EQ(seen.size(), 11U);
  // A reversed range is read the other way round.
  request.range = NatPortRange{2010, 2000};
  const auto port = choose_port(request, kNothingTaken);
  ASSERT_TRUE(port.has_value());
  EXPECT_GE(*port, 2000);
  EXPECT_LE(*port, 2010);
}

TEST(NatPortChoice, AnExhaustedRangeGivesNothing) {
  PortChoice request = source_port(40000);
  request.range = NatPortRange{1000, 1009};
  int probes = 0;
  const auto all_taken = [&](std::uint16_t) {
    ++probes;
    return true;
  };
  EXPECT_EQ(choose_port(request, all_taken), std::nullopt);
  EXPECT_EQ(probes, 10);  // a small range is searched once, whole

  request.range.reset();
  probes = 0;
  EXPECT_EQ(choose_port(request, all_taken), std::nullopt);
  // The original, then rounds of 128, 64, 32, 16 and 8 probes.
  EXPECT_EQ(probes, 1 + 128 + 64 + 32 + 16 + 8);
}

TEST(NatPortChoice, RandomStartsSpreadOverTheRange) {
  std::set<std::uint16_t> seen;
  double sum = 0;
  constexpr int kRounds = 2000;
  for (int round = 0; round < kRounds; ++round) {
    const auto port = choose_port(source_port(40000), [](std::uint16_t p) { return p == 40000; });
    ASSERT_TRUE(port.has_value());
    seen.insert(*port);
    sum += *port;
  }
  EXPECT_GT(seen.size(), 1900U);
  const double mean = sum / kRounds;
  EXPECT_GT(mean, 30000);
  EXPECT_LT(mean, 36000);
}

TEST(NatPortChoice, RandomNeverKeepsTheOriginalOnPurpose) {
  PortChoice request = source_port(40000);
  request.random = true;
  int kept = 0;
  for (int round = 0; round < 200; ++round) {
    if (choose_port(request, kNothingTaken) == 40000) ++kept;
  }
  EXPECT_LT(kept, 3);
}

TEST(NatPortChoice, DestinationPortsChangeOnlyWithARange) {
  PortChoice request = port_choice(ipproto::kTcp, ManipSide::kDestination, 80);
  EXPECT_EQ(choose_port(request, kNothingTaken), 80);
  EXPECT_EQ(choose_port(request, [](std::uint16_t) { return true; }), std::nullopt);
  request.random = true;
  EXPECT_EQ(choose_port(request, kNothingTaken), 80);
  request.random = false;
  request.range = NatPortRange{8080, 8080};
  EXPECT_EQ(choose_port(request, kNothingTaken), 8080);
}

TEST(NatPortChoice, EchoIdsAreRemappedOverTheWholeSpace) {
  PortChoice request = port_choice(ipproto::kIcmp, ManipSide::kSource, 7);
  EXPECT_EQ(choose_port(request, kNothingTaken), 7);
  std::set<std::uint16_t> seen;
  bool above_1023 = false;
  for (int round = 0; round < 500; ++round) {
    const auto id = choose_port(request, [](std::uint16_t p) { return p == 7; });
    ASSERT_TRUE(id.has_value());
    EXPECT_NE(*id, 7);
    above_1023 = above_1023 || *id > 1023;
    seen.insert(*id);
  }
  EXPECT_TRUE(above_1023);
  EXPECT_GT(seen.size(), 450U);
  // Even a destination manip remaps a taken echo id.
  request.side = ManipSide::kDestination;
  EXPECT_NE(choose_port(request, [](std::uint16_t p) { return p == 7; }), std::nullopt);
}

TEST(NatPortChoice, ProtocolsWithoutPortsKeepWhatTheyHave) {
  PortChoice request = port_choice(47, ManipSide::kSource, 0);
  EXPECT_EQ(choose_port(request, kNothingTaken), 0);
  EXPECT_EQ(choose_port(request, [](std::uint16_t) { return true; }), std::nullopt);
}

TEST(NatPortChoice, AThousandConnectionsFromOneSourcePortGetDistinctPorts) {
  std::unordered_set<std::uint16_t> in_use;
  const auto taken = [&](std::uint16_t p) { return in_use.contains(p); };
  for (int connection = 0; connection < 1000; ++connection) {
    const auto port = choose_port(source_port(40000), taken);
    ASSERT_TRUE(port.has_value()) << connection;
    if (connection == 0) {
      EXPECT_EQ(*port, 40000);
    }
    EXPECT_GE(*port, 1024);
    EXPECT_TRUE(in_use.insert(*port).second);
  }
}

TEST(NatAddressChoice, ASingleAddressIsTheAnswer) {
  const AddressRange range{ip("192.0.2.7"), ip("192.0.2.7")};
  EXPECT_EQ(
      choose_address(range, udp_tuple("10.0.0.1", 1, "198.51.100.1", 2), ManipSide::kSource, false),
      ip("192.0.2.7"));
}

// Measured: SNAT with these ranges in a network namespace (iptables-legacy,
// kernel 6.18), conntrack -L showing the mapped source of UDP from
// 10.9.0.1 (2001:db8:9::1) to the N-th destination; for IPv6 also DNAT in
// OUTPUT, which gave the same addresses.
TEST(NatAddressChoice, PicksWhatTheKernelPicks) {
  const AddressRange v4{ip("192.0.2.1"), ip("192.0.2.250")};
  const AddressRange v6{ip("2001:db8:5::10"), ip("2001:db8:5::1:20")};
  const std::array<const char*, 8> v4_chosen{"192.0.2.52",  "192.0.2.161", "192.0.2.143",
                                             "192.0.2.149", "192.0.2.153", "192.0.2.165",
                                             "192.0.2.146", "192.0.2.12"};
  const std::array<const char*, 8> v6_chosen{
      "2001:db8:5::6e10", "2001:db8:5::c772", "2001:db8:5::9f30", "2001:db8:5::4aba",
      "2001:db8:5::4d0f", "2001:db8:5::538d", "2001:db8:5::46c2", "2001:db8:5::40a8"};
  for (std::size_t n = 1; n <= 8; ++n) {
    const std::string server = "198.51.100." + std::to_string(n);
    const Tuple t = udp_tuple("10.9.0.1", 4000, server.c_str(), 9);
    EXPECT_EQ(choose_address(v4, t, ManipSide::kSource, false), ip(v4_chosen[n - 1])) << server;
    EXPECT_EQ(choose_address(v4, t, ManipSide::kSource, true), ip("192.0.2.6")) << server;
    const std::string server6 = "2001:db8:100::" + std::to_string(n);
    const Tuple t6 = udp_tuple("2001:db8:9::1", 4000, server6.c_str(), 9);
    EXPECT_EQ(choose_address(v6, t6, ManipSide::kSource, false), ip(v6_chosen[n - 1])) << server6;
    // DNAT (OUTPUT) to the same range picked the same addresses.
    EXPECT_EQ(choose_address(v6, t6, ManipSide::kDestination, false), ip(v6_chosen[n - 1]))
        << server6;
  }
}

TEST(NatAddressChoice, AlwaysWithinTheRange) {
  const AddressRange v4{ip("192.0.2.10"), ip("192.0.2.19")};
  const AddressRange v4_wide{ip("10.0.0.0"), ip("10.255.255.255")};
  const AddressRange v6{ip("2001:db8::10"), ip("2001:db8::1:0:20")};
  const AddressRange v6_narrow{ip("2001:db8::a"), ip("2001:db8::f")};
  std::set<IpAddress> seen_v4;
  for (unsigned i = 0; i < 2000; ++i) {
    const std::string client = "172.16." + std::to_string(i / 200) + "." + std::to_string(i % 200);
    const std::string server = "198.51.100." + std::to_string(i % 7);
    const Tuple t = udp_tuple(client.c_str(), 1000, server.c_str(), 53);
    for (const ManipSide side : {ManipSide::kSource, ManipSide::kDestination}) {
      for (const bool persistent : {false, true}) {
        const IpAddress narrow = choose_address(v4, t, side, persistent);
        EXPECT_GE(narrow, v4.min);
        EXPECT_LE(narrow, v4.max);
        seen_v4.insert(narrow);
        const IpAddress wide = choose_address(v4_wide, t, side, persistent);
        EXPECT_GE(wide, v4_wide.min);
        EXPECT_LE(wide, v4_wide.max);
      }
    }
    const std::string client6 = "2001:db8:1::" + std::to_string(i);
    const Tuple t6 = udp_tuple(client6.c_str(), 1000, "2001:db8:2::1", 53);
    for (const ManipSide side : {ManipSide::kSource, ManipSide::kDestination}) {
      for (const AddressRange& range : {v6, v6_narrow}) {
        const IpAddress a = choose_address(range, t6, side, false);
        EXPECT_EQ(a.family, Family::kIPv6);
        EXPECT_GE(a, range.min);
        EXPECT_LE(a, range.max);
      }
    }
  }
  EXPECT_EQ(seen_v4.size(), 10U);
}

TEST(NatAddressChoice, TheSameConnectionAlwaysMapsTheSameWay) {
  const AddressRange range{ip("192.0.2.1"), ip("192.0.2.250")};
  const Tuple t = udp_tuple("10.0.0.1", 1234, "198.51.100.1", 53);
  const IpAddress first = choose_address(range, t, ManipSide::kSource, false);
  Tuple other_ports = t;
  other_ports.source_port = 4321;
  other_ports.destination_port = 80;
  EXPECT_EQ(choose_address(range, other_ports, ManipSide::kSource, false), first);
}

TEST(NatAddressChoice, PersistentLeavesTheDestinationOut) {
  const AddressRange range{ip("192.0.2.1"), ip("192.0.2.250")};
  std::set<IpAddress> persistent;
  std::set<IpAddress> by_destination;
  for (int server = 1; server < 100; ++server) {
    const std::string destination = "198.51.100." + std::to_string(server);
    const Tuple t = udp_tuple("10.0.0.1", 1234, destination.c_str(), 53);
    persistent.insert(choose_address(range, t, ManipSide::kSource, true));
    by_destination.insert(choose_address(range, t, ManipSide::kSource, false));
  }
  EXPECT_EQ(persistent.size(), 1U);
  EXPECT_GT(by_destination.size(), 50U);
}

TEST(NatAddressChoice, TheZoneSeedsTheHash) {
  const AddressRange range{ip("192.0.2.1"), ip("192.0.2.250")};
  std::set<IpAddress> seen;
  Tuple t = udp_tuple("10.0.0.1", 1234, "198.51.100.1", 53);
  for (std::uint16_t zone = 0; zone < 50; ++zone) {
    t.zone = zone;
    seen.insert(choose_address(range, t, ManipSide::kSource, false));
  }
  EXPECT_GT(seen.size(), 25U);
}

}  // namespace
}  // namespace verdictd
