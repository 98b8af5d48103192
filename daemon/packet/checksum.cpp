#include "packet/checksum.hpp"

#include <array>

#include "packet/byte_order.hpp"

namespace verdictd::checksum {

namespace {

std::uint16_t fold(std::uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// The reflected Castagnoli polynomial.
constexpr std::uint32_t kCrc32cPolynomial = 0x82f63b78;

constexpr std::array<std::uint32_t, 256> crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) != 0 ? kCrc32cPolynomial : 0);
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kCrc32cTable = crc32c_table();

}  // namespace

std::uint16_t ones_sum(std::span<const std::uint8_t> bytes, std::uint16_t initial) {
  std::uint64_t sum = initial;
  std::size_t at = 0;
  for (; at + 1 < bytes.size(); at += 2) sum += read16(bytes, at);
  if (at < bytes.size()) sum += static_cast<std::uint32_t>(bytes[at] << 8);
  return fold(sum);
}

std::uint16_t ones_add(std::uint16_t a, std::uint16_t b) { return fold(std::uint64_t{a} + b); }

std::uint16_t pseudo_header_sum(const IpAddress& source, const IpAddress& destination,
                                std::uint8_t protocol, std::uint32_t length) {
  std::uint16_t sum = ones_sum(std::span(source.bytes).first(source.size()));
  sum = ones_sum(std::span(destination.bytes).first(destination.size()), sum);
  return fold(std::uint64_t{sum} + protocol + (length >> 16) + (length & 0xffff));
}

std::uint16_t update(std::uint16_t checksum, std::span<const std::uint8_t> before,
                     std::span<const std::uint8_t> after) {
  // HC' = ~(~HC + ~m + m'), word by word; ~m is m's ones-complement negation.
  std::uint64_t sum = static_cast<std::uint16_t>(~checksum);
  for (std::size_t at = 0; at + 1 < before.size(); at += 2) {
    sum += static_cast<std::uint16_t>(~read16(before, at));
    sum += read16(after, at);
  }
  return static_cast<std::uint16_t>(~fold(sum));
}

std::uint16_t update16(std::uint16_t checksum, std::uint16_t before, std::uint16_t after) {
  const std::array<std::uint8_t, 2> old_bytes{static_cast<std::uint8_t>(before >> 8),
                                              static_cast<std::uint8_t>(before)};
  const std::array<std::uint8_t, 2> new_bytes{static_cast<std::uint8_t>(after >> 8),
                                              static_cast<std::uint8_t>(after)};
  return update(checksum, old_bytes, new_bytes);
}

std::uint32_t crc32c(std::span<const std::uint8_t> bytes) {
  std::uint32_t crc = 0xffffffff;
  for (const std::uint8_t byte : bytes) crc = (crc >> 8) ^ kCrc32cTable[(crc ^ byte) & 0xff];
  return ~crc;
}

}  // namespace verdictd::checksum
