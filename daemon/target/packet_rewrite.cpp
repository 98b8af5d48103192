#include "target/packet_rewrite.hpp"

#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"

namespace verdictd {

void write_dsfield(std::span<std::uint8_t> packet, Family family, std::uint8_t value) {
  if (family == Family::kIPv4) {
    // The TOS byte is the low half of the header's first 16-bit word.
    const std::uint16_t before = read16(packet, 0);
    packet[1] = value;
    write16(packet, 10, checksum::update16(read16(packet, 10), before, read16(packet, 0)));
    return;
  }
  // Version (4 bits), traffic class (8), flow label (20): the class straddles
  // the first two bytes. IPv6 has no header checksum.
  packet[0] = static_cast<std::uint8_t>((packet[0] & 0xf0U) | (value >> 4));
  packet[1] = static_cast<std::uint8_t>((packet[1] & 0x0fU) | ((value & 0x0fU) << 4));
}

}  // namespace verdictd
