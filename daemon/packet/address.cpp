#include "packet/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace verdictd {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
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
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::kIPv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

namespace {

// The prefix length of a contiguous mask, or -1.
int mask_length(const IpAddress& mask) {
  int length = 0;
  bool ended = false;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = (mask.bytes[i] >> bit) & 1U;
      if (set && ended) return -1;
      if (set) {
        ++length;
      } else {
        ended = true;
      }
    }
  }
  return length;
}

void apply_length(IpAddress& a, int length) {
  for (std::size_t i = 0; i < a.bytes.size(); ++i) {
    const int keep = std::clamp(length - static_cast<int>(i) * 8, 0, 8);
    a.bytes[i] &= static_cast<std::uint8_t>(0xff00U >> keep);
  }
}

}  // namespace

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const int max = static_cast<int>(address->size()) * 8;
  int length = max;
  if (slash != std::string_view::npos) {
    const std::string_view rest = text.substr(slash + 1);
    if (auto mask = IpAddress::parse(rest); mask && mask->family == address->family &&
                                            rest.find_first_not_of("0123456789") != rest.npos) {
      length = mask_length(*mask);
      if (length < 0) return std::nullopt;
    } else {
      auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), length);
      if (error != std::errc() || end != rest.data() + rest.size() || rest.empty() ||
          length < 0 || length > max) {
        return std::nullopt;
      }
    }
  }
  apply_length(*address, length);
  return IpPrefix{*address, length};
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  IpAddress masked = a;
  apply_length(masked, length);
  return masked == address;
}

std::string IpPrefix::to_string() const {
  const int max = static_cast<int>(address.size()) * 8;
  if (length == max) return address.to_string();
  return address.to_string() + "/" + std::to_string(length);
}

}  // namespace verdictd
