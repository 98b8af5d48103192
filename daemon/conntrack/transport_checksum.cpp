#include "conntrack/transport_checksum.hpp"

#include "packet/checksum.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kUdpChecksumAt = 6;

// The ones-complement sum of data whose checksum is right: all ones.
constexpr std::uint16_t kSumOfValidData = 0xffff;

}  // namespace

bool transport_checksum_valid(const PacketView& packet) {
  if (!packet.has_network || packet.is_fragment || packet.transport_offset > packet.length) {
    return true;
  }
  const std::size_t covered = packet.length - packet.transport_offset;
  if (packet.transport_bytes < covered) return true;
  const auto bytes = packet.bytes.subspan(packet.transport_offset, covered);
  const bool ipv4 = packet.family == Family::kIPv4;
  switch (packet.protocol) {
    case ipproto::kTcp:
      break;
    case ipproto::kUdp:
      if (covered < kUdpHeader || (bytes[kUdpChecksumAt] == 0 && bytes[kUdpChecksumAt + 1] == 0)) {
        return true;
      }
      break;
    case ipproto::kIcmp:
      return !ipv4 || checksum::ones_sum(bytes) == kSumOfValidData;
    case ipproto::kIcmpv6:
      if (ipv4) return true;
      break;
    default:
      return true;
  }
  const std::uint16_t pseudo_header = checksum::pseudo_header_sum(
      packet.source, packet.destination, packet.protocol, static_cast<std::uint32_t>(covered));
  return checksum::ones_sum(bytes, pseudo_header) == kSumOfValidData;
}

bool checksum_rejected(const PacketView& packet, bool crossed_prerouting) {
  return crossed_prerouting && packet.checksum == ChecksumInfo::kUnverified &&
         !transport_checksum_valid(packet);
}

}  // namespace verdictd
