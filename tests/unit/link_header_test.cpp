// The received Ethernet header rebuilt for LOG's MAC= (packet/link_header.hpp);
// tests/integration/test_log.py compares the lines with the kernel's for each
// kind of destination.
#include "packet/link_header.hpp"

#include <gtest/gtest.h>

#include "packets.hpp"

namespace verdictd {
namespace {

constexpr MacAddress kOwn = {0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddress kSender = {0x02, 0, 0, 0, 0, 0x02};

EthernetHeader header(const MacAddress& destination, std::uint8_t type_high,
                      std::uint8_t type_low) {
  EthernetHeader h{};
  std::copy(destination.begin(), destination.end(), h.begin());
  std::copy(kSender.begin(), kSender.end(), h.begin() + 6);
  h[12] = type_high;
  h[13] = type_low;
  return h;
}

std::optional<EthernetHeader> rebuilt(const test::Bytes& bytes, PacketType type,
                                      LinkKind receiver = LinkKind::kEthernet) {
  const ReceivedLink link{
      .receiver = {.kind = receiver, .address = kOwn}, .device = receiver, .source = kSender};
  return received_header(link, type, PacketView::parse(bytes));
}

TEST(LinkHeader, UnicastGoesToTheReceiversOwnAddress) {
  EXPECT_EQ(rebuilt(test::ipv4_packet(17, "10.0.0.2", "10.0.0.1", 1, 2), PacketType::kUnicast),
            header(kOwn, 0x08, 0x00));
  EXPECT_EQ(rebuilt(test::ipv6_udp_packet("fd00::2", "fd00::1", 1, 2), PacketType::kUnicast),
            header(kOwn, 0x86, 0xdd));
}

TEST(LinkHeader, BroadcastAndMulticastMapTheDestination) {
  EXPECT_EQ(rebuilt(test::ipv4_packet(17, "10.0.0.2", "10.0.0.255", 1, 2), PacketType::kBroadcast),
            header({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0x08, 0x00));
  // The low 23 bits: 239.129.2.3's top bit of the second byte goes.
  EXPECT_EQ(rebuilt(test::ipv4_packet(17, "10.0.0.2", "239.129.2.3", 1, 2), PacketType::kMulticast),
            header({0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}, 0x08, 0x00));
  EXPECT_EQ(
      rebuilt(test::ipv6_udp_packet("fd00::2", "ff02::1:ff00:1234", 1, 2), PacketType::kMulticast),
      header({0x33, 0x33, 0xff, 0x00, 0x12, 0x34}, 0x86, 0xdd));
}

TEST(LinkHeader, LoopbackAlwaysItsOwnAddress) {
  EXPECT_EQ(rebuilt(test::ipv4_packet(17, "127.0.0.1", "224.0.0.1", 1, 2), PacketType::kMulticast,
                    LinkKind::kLoopback),
            header(kOwn, 0x08, 0x00));
}

TEST(LinkHeader, UnknownWithoutSenderOrForOtherDevices) {
  const test::Bytes packet = test::ipv4_packet(17, "10.0.0.2", "10.0.0.1", 1, 2);
  EXPECT_EQ(rebuilt(packet, PacketType::kUnicast, LinkKind::kOther), std::nullopt);
  const ReceivedLink no_sender{.receiver = {.kind = LinkKind::kEthernet, .address = kOwn},
                               .device = LinkKind::kEthernet};
  EXPECT_EQ(received_header(no_sender, PacketType::kUnicast, PacketView::parse(packet)),
            std::nullopt);
}

}  // namespace
}  // namespace verdictd
