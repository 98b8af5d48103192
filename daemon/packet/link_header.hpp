// The link-layer header a received packet came in with, as the kernel's LOG
// target prints it (nf_log_syslog.c, dump_mac_header). NFQUEUE hands over
// only the sender's address (NFQA_HWADDR, which dev_parse_header reads from
// the header); the rest is rebuilt as the sender built it: the destination is
// the receiving device's own address for a packet to this host or one to be
// forwarded (PACKET_HOST; ip_rcv and ipv6_rcv drop PACKET_OTHERHOST before
// any hook), the broadcast address or the multicast address the destination
// IP maps to; the EtherType follows the family.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "packet/packet.hpp"
#include "packet/packet_type.hpp"

namespace verdictd {

using MacAddress = std::array<std::uint8_t, 6>;
using EthernetHeader = std::array<std::uint8_t, 14>;  // destination, source, EtherType

// The devices whose header dump_mac_header prints in a way known here: an
// Ethernet device (ARPHRD_ETHER, the one kind --log-macdecode decodes) and
// the loopback device (ARPHRD_LOOPBACK: an Ethernet header of zeros, which
// loopback_xmit leaves in front of the packet). Any other kind has a header
// of a length rtnetlink does not tell (hard_header_len).
enum class LinkKind : std::uint8_t { kOther, kEthernet, kLoopback };

struct LinkDevice {
  LinkKind kind = LinkKind::kOther;
  MacAddress address{};  // its own address (IFLA_ADDRESS)
};

// What NFQUEUE and the link cache say of a packet's link layer.
struct ReceivedLink {
  LinkDevice receiver{};  // the input device
  // skb->dev, whose kind dump_mac_header goes by: the input device, but at
  // POSTROUTING the output device (ip_output and ip6_output set it before
  // the hook; the header in front of the packet is still the received one).
  LinkKind device = LinkKind::kOther;
  std::optional<MacAddress> source{};  // NFQA_HWADDR; none: no header was left
};

// The Ethernet header `packet` was received with; nullopt when it cannot be
// rebuilt (no sender's address, or a receiver that is not Ethernet or
// loopback). `type` is the packet's skb->pkt_type (packet_type()).
std::optional<EthernetHeader> received_header(const ReceivedLink& link, PacketType type,
                                              const PacketView& packet);

}  // namespace verdictd
