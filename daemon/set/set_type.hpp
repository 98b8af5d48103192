// ipset's set types as verdictd keeps them: what each dimension of an
// element is, and which of them the kernel's hash types match by prefix
// (the "net" of hash:net). One table, read by the element parser, the key
// encoding and the set match.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace verdictd {

enum class Dimension : std::uint8_t {
  kAddress,    // an IPv4 or IPv6 address (a network for the "net" types)
  kPort,       // [proto:]port, as the hash:*,port types take it
  kInterface,  // an interface name (hash:net,iface)
  kMac,        // an Ethernet address (hash:mac)
  kBarePort,   // a port without protocol (bitmap:port)
};

inline constexpr std::size_t kMaxDimensions = 3;

struct SetType {
  std::string_view name;  // "hash:net,port"
  std::array<Dimension, kMaxDimensions> dimensions{};
  std::uint8_t dimension_count = 0;
  // The first address is a network of any prefix length, looked up longest
  // prefix first (ipset's IP_SET_HASH_WITH_NETS); "nomatch" elements apply.
  bool networks = false;
  // Elements carry an address, so the set has a family (inet or inet6).
  bool has_family = true;
};

// The type named `name` ("hash:ip"), or nullopt.
const SetType* find_set_type(std::string_view name);
// "hash:ip, hash:net, ..." for errors.
std::string_view set_type_names();

}  // namespace verdictd
