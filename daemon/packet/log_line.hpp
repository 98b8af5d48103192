// The text of the LOG target, byte for byte as the kernel's syslog logger
// writes it (net/netfilter/nf_log_syslog.c: nf_log_ip_packet,
// nf_log_ip6_packet): prefix, interfaces, link layer, network header, the
// transport header, and the socket's owner and the mark. Pure: it reads only
// the bytes it is given and what the caller says of the packet.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "packet/address.hpp"
#include "packet/link_header.hpp"

namespace verdictd {

// What to add to the line, as the kernel's XT_LOG_* flags number them.
namespace logflag {
inline constexpr std::uint8_t kTcpSequence = 0x01;
inline constexpr std::uint8_t kTcpOptions = 0x02;
inline constexpr std::uint8_t kIpOptions = 0x04;
inline constexpr std::uint8_t kUid = 0x08;
inline constexpr std::uint8_t kMacDecode = 0x20;
inline constexpr std::uint8_t kAll = 0x2f;
}  // namespace logflag

// The fsuid and fsgid of the local socket's file, as NFQUEUE reports them
// (NFQA_UID, NFQA_GID) and nf_log_dump_sk_uid_gid prints them.
struct SocketOwner {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

struct LogLineInput {
  std::string_view prefix{};
  std::uint8_t flags = 0;
  // The packet came in on a device (PREROUTING, INPUT, FORWARD, and
  // POSTROUTING for a forwarded packet): the kernel then describes its
  // link-layer header.
  bool has_input_device = false;
  // The kind of skb->dev and the header the packet came in with
  // (packet/link_header.hpp); none when it is not known.
  LinkKind device = LinkKind::kOther;
  std::optional<EthernetHeader> link_header{};
  std::string_view in_interface{};
  std::string_view out_interface{};
  std::uint32_t mark = 0;
  std::optional<SocketOwner> owner{};  // none: no full local socket
};

// The line for `packet` (from its network header on), without a newline.
// A link-layer header that is not known is written as the kernel writes it
// for a packet that has none: "MAC= ", and with kMacDecode nothing for an
// Ethernet device.
std::string log_line(std::span<const std::uint8_t> packet, Family family,
                     const LogLineInput& input);

}  // namespace verdictd
