#include "packet/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace verdictd {

std::string_view family_name(Family f) { return f == Family::kIPv4 ? "ipv4" : "ipv6"; }

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton stops at a NUL, so "10.0.0.1\0junk" (possible in JSON) would pass.
  if (text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::kIPv4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::kIPv6;
    return a;
  }
  return std::nullopt;
}

IpAddress IpAddress::from_v4(const std::uint8_t* four) {
  IpAddress a;
  a.family = Family::kIPv4;
  std::memcpy(a.bytes.data(), four, 4);
  return a;
}

IpAddress IpAddress::from_v6(const std::uint8_t* sixteen) {
  IpAddress a;
  a.family = Family::kIPv6;
  std::memcpy(a.bytes.data(), sixteen, 16);
  return a;
}

std::string IpAddress::to_string() const {
  std::array<char, INET6_ADDRSTRLEN> text{};
  inet_ntop(family == Family::kIPv4 ? AF_INET : AF_INET6, bytes.data(), text.data(), text.size());
  return text.data();
}

namespace {

// The byte of a mask of `length` bits that covers address byte `index`.
std::uint8_t mask_byte(int length, std::size_t index) {
  const int bits = std::clamp(length - static_cast<int>(index) * 8, 0, 8);
  return static_cast<std::uint8_t>(0xff00U >> bits);
}

// The prefix length of a contiguous mask, or nullopt.
std::optional<int> mask_length(const IpAddress& mask) {
  int length = 0;
  while (length < static_cast<int>(mask.size()) * 8 &&
         (mask.bytes[length / 8] & (0x80U >> (length % 8))) != 0) {
    ++length;
  }
  for (std::size_t i = 0; i < mask.size(); ++i) {
    if (mask.bytes[i] != mask_byte(length, i)) {
      return std::nullopt;
    }
  }
  return length;
}

}  // namespace

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    return std::nullopt;
  }
  const int max = static_cast<int>(address->size()) * 8;
  int length = max;
  if (slash != std::string_view::npos) {
    const std::string_view rest = text.substr(slash + 1);
    if (auto mask = IpAddress::parse(rest); mask && mask->family == address->family) {
      auto contiguous = mask_length(*mask);
      if (!contiguous) {
        return std::nullopt;
      }
      length = *contiguous;
    } else {
      const char* end = rest.data() + rest.size();
      auto [stop, error] = std::from_chars(rest.data(), end, length);
      if (rest.empty() || error != std::errc() || stop != end || length < 0 || length > max) {
        return std::nullopt;
      }
    }
  }
  for (std::size_t i = 0; i < address->size(); ++i) {
    address->bytes[i] &= mask_byte(length, i);
  }
  return IpPrefix{*address, length};
}

// On the packet path for every -s/-d: compares whole bytes, then the partial one.
bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != address.family) {
    return false;
  }
  const auto whole = static_cast<std::size_t>(length / 8);
  if (std::memcmp(a.bytes.data(), address.bytes.data(), whole) != 0) {
    return false;
  }
  return length % 8 == 0 || (a.bytes[whole] & mask_byte(length, whole)) == address.bytes[whole];
}

std::string IpPrefix::to_string() const {
  if (static_cast<std::size_t>(length) == address.size() * 8) {
    return address.to_string();
  }
  return address.to_string() + "/" + std::to_string(length);
}

}  // namespace verdictd
