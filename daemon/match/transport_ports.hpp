// What -m tcp, -m udp and -m sctp share: --sport and --dport, each one port
// or range, tested after the kernel's checks of the transport header (a
// non-first fragment never matches; a first packet whose header is cut
// short is dropped, "hotdrop"), as tcp_mt, udp_mt and sctp_mt do.
#pragma once

#include <optional>
#include <string>

#include "extension/match.hpp"

namespace verdictd {

struct PortTest {
  PortRange range;
  bool negated = false;
  [[nodiscard]] bool passes(std::uint16_t port) const { return range.contains(port) != negated; }
  // 0:65535 not negated: iptables prints and saves nothing for it.
  [[nodiscard]] bool tests_nothing() const {
    return range.low == 0 && range.high == 0xffff && !negated;
  }
};

struct TransportPorts {
  std::optional<PortTest> source;
  std::optional<PortTest> destination;

  static TransportPorts from(const OptionValues& options);
  [[nodiscard]] bool passes(const PacketView& packet) const {
    return (!source || source->passes(packet.source_port)) &&
           (!destination || destination->passes(packet.destination_port));
  }
  // " spt:22 dpts:1024:65535", as iptables -L -n prints them.
  [[nodiscard]] std::string list_text() const;
};

// True when the kernel's match may look at the header: a whole packet or its
// first fragment, with `header_bytes` of transport header; sets hotdrop when
// the header is cut short.
bool transport_header_present(const PacketView& packet, std::size_t header_bytes, EvalState& state);

// The descriptions of --sport and --dport for a protocol's own match.
OptionSpec source_port_option();
OptionSpec destination_port_option();

// A match that tests only ports (-m udp, -m sctp): `name` as -L prints it.
std::unique_ptr<Match> make_port_match(std::string_view name, std::size_t header_bytes,
                                       const OptionValues& options);

}  // namespace verdictd
