#include "set/packet_key.hpp"

#include <cstring>

namespace verdictd {

namespace {

constexpr std::size_t kInterfaceBytes = 16;

bool has_port_header(std::uint8_t protocol) {
  return protocol == ipproto::kTcp || protocol == ipproto::kUdp || protocol == ipproto::kSctp ||
         protocol == ipproto::kUdplite;
}

// The protocol and port word of ipset's get_port (ip_set_getport.c): the
// port of TCP, UDP, UDP-Lite and SCTP, ICMP's type and code, 0 for other
// protocols; none from a fragment past the first.
std::optional<std::uint64_t> port_of(const PacketView& packet, bool source) {
  const std::uint8_t protocol = packet.protocol;
  const bool icmp =
      packet.family == Family::kIPv4 ? protocol == ipproto::kIcmp : protocol == ipproto::kIcmpv6;
  if (packet.family == Family::kIPv4 && protocol == 0) return std::nullopt;
  if (!packet.is_first_fragment_or_whole()) {
    if (packet.family == Family::kIPv6 || has_port_header(protocol) || icmp) return std::nullopt;
    return port_word(protocol, 0);
  }
  if (has_port_header(protocol)) {
    if (!packet.has_ports) return std::nullopt;
    return port_word(protocol, source ? packet.source_port : packet.destination_port);
  }
  if (icmp) {
    if (!packet.has_icmp) return std::nullopt;
    return port_word(protocol,
                     static_cast<std::uint16_t>((packet.icmp_type << 8) | packet.icmp_code));
  }
  return port_word(protocol, 0);
}

}  // namespace

std::optional<SetDirections> SetDirections::parse(std::string_view text) {
  SetDirections directions;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view word = text.substr(start, comma - start);
    if (directions.count == kMaxDirections || (word != "src" && word != "dst")) return std::nullopt;
    directions.source[directions.count++] = word == "src";
    if (comma == std::string_view::npos) return directions;
    start = comma + 1;
  }
}

std::string SetDirections::text() const {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    out += (i == 0 ? "" : ",") + std::string(source[i] ? "src" : "dst");
  }
  return out;
}

bool packet_key(const ElementCodec& codec, const PacketView& packet, const EvalState& state,
                const SetDirections& directions, SetKey& key) {
  const SetType& type = codec.type();
  if (directions.count < type.dimension_count) return false;
  if (type.has_family && packet.family != codec.family()) return false;
  std::size_t word = 0;
  for (std::size_t d = 0; d < type.dimension_count; ++d) {
    const bool source = directions.source[d];
    switch (type.dimensions[d]) {
      case Dimension::kAddress:
        codec.put_address(source ? packet.source : packet.destination, &key[word]);
        word += codec.address_words();
        break;
      case Dimension::kPort: {
        const std::optional<std::uint64_t> port = port_of(packet, source);
        if (!port) return false;
        key[word++] = *port;
        break;
      }
      case Dimension::kBarePort: {
        // bitmap:port takes TCP and UDP only (ip_set_get_ip_port).
        const std::optional<std::uint64_t> port = port_of(packet, source);
        const auto protocol = port ? static_cast<std::uint8_t>(*port >> 16) : 0;
        if (protocol != ipproto::kTcp && protocol != ipproto::kUdp) return false;
        key[word++] = *port & 0xffff;
        break;
      }
      case Dimension::kInterface: {
        const std::string_view name = source ? state.in_interface : state.out_interface;
        if (name.empty() || name.size() >= kInterfaceBytes) return false;
        std::array<char, kInterfaceBytes> bytes{};
        std::memcpy(bytes.data(), name.data(), name.size());
        std::memcpy(&key[word], bytes.data(), bytes.size());
        word += 2;
        break;
      }
      case Dimension::kMac: {
        // Only the source address comes with a queued packet (NFQA_HWADDR).
        if (!source || !state.link.source) return false;
        std::uint64_t mac = 0;
        for (const std::uint8_t byte : *state.link.source) mac = (mac << 8) | byte;
        if (mac == 0) return false;
        key[word++] = mac;
        break;
      }
    }
  }
  return true;
}

}  // namespace verdictd
