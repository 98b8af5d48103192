// -m pkttype: the packet type rebuilt from the hook and the destination (see
// packet/packet_type.hpp) for each type, negation, looped-back copies, both
// families, the errors, and the listing and iptables-save text iptables
// 1.8.9 prints for the same rules.
#include <gtest/gtest.h>

#include <map>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packet/packet_type.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

constexpr std::uint32_t kLan = 2;
constexpr std::uint32_t kWan = 3;

// The subnet broadcasts of a router with 10.1.0.1/24 on kLan and 10.2.0.1/24 on kWan.
class FakeBroadcasts final : public SubnetBroadcasts {
 public:
  [[nodiscard]] bool is_subnet_broadcast(std::uint32_t ifindex,
                                         const IpAddress& address) const override {
    const auto found = subnets_.find(ifindex);
    return found != subnets_.end() &&
           subnet_broadcast(*IpAddress::parse(found->second), 24) == address;
  }

 private:
  std::map<std::uint32_t, const char*> subnets_ = {{kLan, "10.1.0.1"}, {kWan, "10.2.0.1"}};
};

std::unique_ptr<Match> pkt_type(const std::string& type, bool negated = false) {
  const std::string key = negated ? "!pkt_type" : "pkt_type";
  return build(R"({")" + key + R"(": ")" + type + R"("})", key);
}

// Whether the match takes a UDP datagram from `source` to `destination` at
// `hook`, come in on kLan where the hook has an in interface.
bool takes(const Match& match, Hook hook, const char* source, const char* destination) {
  static const FakeBroadcasts kBroadcasts;
  const bool v6 = std::string_view(destination).find(':') != std::string_view::npos;
  const std::vector<std::uint8_t> bytes = v6 ? test::ipv6_udp_packet(source, destination, 1, 7000)
                                             : test::ipv4_packet(17, source, destination, 1, 7000);
  EvalState state;
  state.hook = hook;
  const bool has_in = hook == Hook::kPrerouting || hook == Hook::kInput || hook == Hook::kForward;
  state.in_ifindex = has_in ? kLan : 0;
  state.broadcasts = &kBroadcasts;
  return match.matches(PacketView::parse(bytes), state);
}

// The type each of the three matches takes the packet as; "" when none or several.
std::string type_of(Hook hook, const char* source, const char* destination) {
  std::string found;
  for (const char* type : {"unicast", "broadcast", "multicast"}) {
    if (takes(*pkt_type(type), hook, source, destination)) {
      if (!found.empty()) return "";
      found = type;
    }
  }
  return found;
}

TEST(PktType, ReceivedTypesFollowTheDestinationAsTheSendersMacDid) {
  for (Hook hook : {Hook::kPrerouting, Hook::kInput}) {
    EXPECT_EQ(type_of(hook, "10.1.0.2", "10.1.0.1"), "unicast");
    EXPECT_EQ(type_of(hook, "10.1.0.2", "10.1.0.255"), "broadcast");
    EXPECT_EQ(type_of(hook, "10.1.0.2", "255.255.255.255"), "broadcast");
    EXPECT_EQ(type_of(hook, "10.1.0.2", "224.0.0.251"), "multicast");
    EXPECT_EQ(type_of(hook, "10.1.0.2", "239.255.1.2"), "multicast");
    EXPECT_EQ(type_of(hook, "fd01::2", "fd01::1"), "unicast");
    EXPECT_EQ(type_of(hook, "fd01::2", "ff02::1234"), "multicast");
    EXPECT_EQ(type_of(hook, "fe80::2", "ff05::1:3"), "multicast");
  }
}

TEST(PktType, OnlyTheInInterfacesSubnetBroadcastIsABroadcast) {
  // A directed broadcast to the other side's subnet comes in a unicast frame
  // to the router (its gateway); the kernel counted it as unicast at INPUT.
  EXPECT_EQ(type_of(Hook::kInput, "10.1.0.2", "10.2.0.255"), "unicast");
  // The all-ones host of a /16 is not this /24's broadcast.
  EXPECT_EQ(type_of(Hook::kInput, "10.1.0.2", "10.1.255.255"), "unicast");
}

TEST(PktType, ForwardedPacketsAreUnicastOrMulticast) {
  EXPECT_EQ(type_of(Hook::kForward, "10.1.0.2", "10.2.0.2"), "unicast");
  EXPECT_EQ(type_of(Hook::kForward, "fd01::2", "fd02::2"), "unicast");
  EXPECT_EQ(type_of(Hook::kForward, "10.1.0.2", "239.1.1.1"), "multicast");  // ipmr
}

TEST(PktType, LocallyGeneratedPacketsAreUnicastUntilTheyLeave) {
  // A new skb is PACKET_HOST; the kernel counted a router's own broadcasts
  // and multicasts as unicast at OUTPUT and POSTROUTING.
  for (Hook hook : {Hook::kOutput, Hook::kPostrouting}) {
    EXPECT_EQ(type_of(hook, "10.1.0.1", "10.1.0.2"), "unicast");
    EXPECT_EQ(type_of(hook, "10.1.0.1", "10.1.0.255"), "unicast");
    EXPECT_EQ(type_of(hook, "10.1.0.1", "255.255.255.255"), "unicast");
    EXPECT_EQ(type_of(hook, "10.1.0.1", "239.1.1.1"), "unicast");
    EXPECT_EQ(type_of(hook, "fd01::1", "ff02::1234"), "unicast");
  }
}

TEST(PktType, LoopedBackCopiesFollowTheLoopbackRule) {
  // dev_loopback_xmit hands the host's own broadcast or multicast back in on
  // the interface it left by, as PACKET_LOOPBACK: pkttype_mt calls an IPv4
  // multicast destination and any IPv6 packet multicast, the rest broadcast.
  EXPECT_EQ(type_of(Hook::kInput, "10.1.0.1", "10.1.0.255"), "broadcast");
  EXPECT_EQ(type_of(Hook::kInput, "10.1.0.1", "255.255.255.255"), "broadcast");
  EXPECT_EQ(type_of(Hook::kInput, "10.1.0.1", "239.1.1.1"), "multicast");
  EXPECT_EQ(type_of(Hook::kInput, "fd01::1", "ff02::1234"), "multicast");
}

TEST(PktType, WithoutAddressesOnlyTheLimitedBroadcastIsOne) {
  const std::vector<std::uint8_t> bytes = test::ipv4_packet(17, "10.1.0.2", "10.1.0.255", 1, 2);
  const PacketView view = PacketView::parse(bytes);
  EXPECT_EQ(packet_type(Hook::kInput, view, kLan, nullptr), PacketType::kUnicast);
  const std::vector<std::uint8_t> all = test::ipv4_packet(17, "10.1.0.2", "255.255.255.255", 1, 2);
  EXPECT_EQ(packet_type(Hook::kInput, PacketView::parse(all), kLan, nullptr),
            PacketType::kBroadcast);
  EXPECT_EQ(packet_type(Hook::kInput, PacketView::parse({}), kLan, nullptr), PacketType::kUnicast);
}

TEST(PktType, NegatedMatchesEveryOtherType) {
  const auto not_unicast = pkt_type("unicast", true);
  EXPECT_FALSE(takes(*not_unicast, Hook::kInput, "10.1.0.2", "10.1.0.1"));
  EXPECT_TRUE(takes(*not_unicast, Hook::kInput, "10.1.0.2", "10.1.0.255"));
  EXPECT_TRUE(takes(*not_unicast, Hook::kInput, "fd01::2", "ff02::1"));
  EXPECT_FALSE(takes(*not_unicast, Hook::kOutput, "10.1.0.1", "255.255.255.255"));
  const auto not_broadcast = pkt_type("broadcast", true);
  EXPECT_TRUE(takes(*not_broadcast, Hook::kInput, "10.1.0.2", "239.1.1.1"));
  EXPECT_FALSE(takes(*not_broadcast, Hook::kInput, "10.1.0.2", "255.255.255.255"));
}

TEST(PktType, SubnetBroadcastIsTheAllOnesHostBelowThirtyOneBits) {
  const IpAddress address = *IpAddress::parse("192.168.5.77");
  EXPECT_EQ(subnet_broadcast(address, 24), IpAddress::parse("192.168.5.255"));
  EXPECT_EQ(subnet_broadcast(address, 20), IpAddress::parse("192.168.15.255"));
  EXPECT_EQ(subnet_broadcast(address, 30), IpAddress::parse("192.168.5.79"));
  EXPECT_EQ(subnet_broadcast(address, 0), IpAddress::parse("255.255.255.255"));
  EXPECT_EQ(subnet_broadcast(address, 31), std::nullopt);
  EXPECT_EQ(subnet_broadcast(address, 32), std::nullopt);
  EXPECT_EQ(subnet_broadcast(*IpAddress::parse("fd01::1"), 64), std::nullopt);
}

TEST(PktType, ListAndSaveAsIptables) {
  // iptables-legacy 1.8.9 -L -n and iptables-legacy-save of the same rules.
  EXPECT_EQ(listed(*pkt_type("broadcast")), "PKTTYPE = broadcast");
  EXPECT_EQ(listed(*pkt_type("unicast", true)), "PKTTYPE != unicast");
  EXPECT_EQ(listed(*pkt_type("multicast")), "PKTTYPE = multicast");
  EXPECT_EQ(saved(*pkt_type("broadcast")), " -m pkttype --pkt-type broadcast");
  EXPECT_EQ(saved(*pkt_type("unicast", true)), " -m pkttype ! --pkt-type unicast");
  EXPECT_EQ(saved(*pkt_type("multicast")), " -m pkttype --pkt-type multicast");
}

TEST(PktType, ErrorsNameTheTypes) {
  EXPECT_EQ(build_error(R"({"pkt_type": "host"})", "pkt_type"),
            R"(: expected "unicast", "broadcast" or "multicast", got "host")");
  EXPECT_EQ(build_error(R"({"pkt_type": 2})", "pkt_type"),
            R"(: expected "unicast", "broadcast" or "multicast", got 2)");
  EXPECT_TRUE(find_option_by_flag("pkttype", "--pkt-type")->negatable);
}

}  // namespace
}  // namespace verdictd
