// -m sctp (loaded by -p sctp): --sport and --dport over the 12-byte SCTP
// common header, as sctp_mt.
#include <array>

#include "match/transport_ports.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kSctpHeaderBytes = 12;
constexpr std::array<std::uint8_t, 1> kProtocols = {ipproto::kSctp};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return make_port_match("sctp", kSctpHeaderBytes, options);
}

const std::array<OptionSpec, 2> kOptions = {source_port_option(), destination_port_option()};

const MatchRegistrar kRegistrar({.name = "sctp",
                                 .summary = "SCTP ports (implied by \"protocol\": \"sctp\")",
                                 .options = kOptions,
                                 .protocols = kProtocols,
                                 .implied = true,
                                 .build = build});

}  // namespace

}  // namespace verdictd
