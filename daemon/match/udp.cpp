// -m udp (loaded by -p udp): --sport and --dport over the 8-byte UDP header,
// as udp_mt. UDP-Lite has no match of its own: its ports go through multiport.
#include <array>

#include "match/transport_ports.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kUdpHeaderBytes = 8;
constexpr std::array<std::uint8_t, 1> kProtocols = {ipproto::kUdp};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return make_port_match("udp", kUdpHeaderBytes, options);
}

const std::array<OptionSpec, 2> kOptions = {source_port_option(), destination_port_option()};

const MatchRegistrar kRegistrar({.name = "udp",
                                 .summary = "UDP ports (implied by \"protocol\": \"udp\")",
                                 .options = kOptions,
                                 .protocols = kProtocols,
                                 .implied = true,
                                 .build = build});

}  // namespace

}  // namespace verdictd
