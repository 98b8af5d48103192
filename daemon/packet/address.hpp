// IP addresses and prefixes for both families, compared as 16 raw bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace verdictd {

enum class Family : std::uint8_t { kIPv4 = 4, kIPv6 = 6 };
inline constexpr std::size_t kFamilyCount = 2;
inline constexpr std::array<Family, kFamilyCount> kAllFamilies = {Family::kIPv4, Family::kIPv6};
// 0 for IPv4, 1 for IPv6: an index into per-family arrays.
constexpr std::size_t family_index(Family f) { return f == Family::kIPv4 ? 0 : 1; }
std::string_view family_name(Family f);  // "ipv4", "ipv6"

// A set of families, as rulesets and tables cover them.
using FamilyMask = std::uint8_t;
constexpr FamilyMask family_bit(Family f) { return static_cast<FamilyMask>(1U << family_index(f)); }
inline constexpr FamilyMask kBothFamilies = 0x3;

// An IPv4 address keeps its 4 bytes at the front and zeros behind them.
struct IpAddress {
  Family family = Family::kIPv4;
  std::array<std::uint8_t, 16> bytes{};

  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress from_v4(const std::uint8_t* four);
  static IpAddress from_v6(const std::uint8_t* sixteen);
  [[nodiscard]] std::size_t size() const { return family == Family::kIPv4 ? 4 : 16; }
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  // clang-tidy 14 mistakes the defaulted comparison for a literal 0.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

// address/length; the address is stored already masked, as iptables does.
struct IpPrefix {
  IpAddress address;
  int length = 0;

  // Accepts "a.b.c.d", "a.b.c.d/len", "a.b.c.d/m.a.s.k", and the IPv6 forms.
  static std::optional<IpPrefix> parse(std::string_view text);
  [[nodiscard]] bool contains(const IpAddress& a) const;
  // "10.0.0.0/8"; a host prefix prints bare ("10.0.0.5"), as iptables -L -n does.
  [[nodiscard]] std::string to_string() const;
};

}  // namespace verdictd
