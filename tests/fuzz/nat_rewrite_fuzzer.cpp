// The NAT rewrite contract (daemon/nat/rewrite.hpp): any packet, any
// manipulation, either checksum state. When apply_manip or
// apply_manip_to_icmp_error says it rewrote the packet, the result re-parses
// to the tuple bound, nothing else changed, and the checksums that were right
// still are (packet_checks.hpp).
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <vector>

#include "nat/rewrite.hpp"
#include "packet_checks.hpp"

namespace {

using verdictd::IpAddress;
using verdictd::ManipSide;
using verdictd::NatManip;

// A manipulation's address bytes and port, read from the end of the fuzz
// data (FuzzedDataProvider's integers), so that the packet starts the input.
struct RawManip {
  std::array<std::uint8_t, 16> address{};
  std::uint16_t port = 0;
};

RawManip consume_manip(FuzzedDataProvider& data) {
  RawManip raw;
  for (auto& byte : raw.address) byte = data.ConsumeIntegral<std::uint8_t>();
  raw.port = data.ConsumeIntegral<std::uint16_t>();
  return raw;
}

NatManip manip_of(const RawManip& raw, bool is_ipv6, ManipSide side) {
  return NatManip{.side = side,
                  .address = is_ipv6 ? IpAddress::from_v6(raw.address.data())
                                     : IpAddress::from_v4(raw.address.data()),
                  .port = raw.port};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider data(bytes, size);
  const auto mode = data.ConsumeIntegral<std::uint8_t>();
  const bool icmp_error = (mode & 1U) != 0;
  const bool checksum_partial = (mode & 2U) != 0;
  const ManipSide side = (mode & 4U) != 0 ? ManipSide::kDestination : ManipSide::kSource;
  const bool sealed = (mode & 8U) != 0;
  const bool other_family = (mode & 16U) != 0;
  const RawManip raw_outer = consume_manip(data);
  const RawManip raw_inner = consume_manip(data);
  // The packet in a buffer of its own size, so that ASan sees any read past it.
  std::vector<std::uint8_t> packet = data.ConsumeRemainingBytes<std::uint8_t>();
  const bool is_ipv6 = (!packet.empty() && packet[0] >> 4 == 6) != other_family;
  const NatManip outer = manip_of(raw_outer, is_ipv6, side);
  const NatManip inner =
      manip_of(raw_inner, is_ipv6,
               side == ManipSide::kSource ? ManipSide::kDestination : ManipSide::kSource);
  if (sealed) verdictd::fuzz::seal(packet);
  const std::vector<std::uint8_t> before = packet;
  if (icmp_error) {
    if (verdictd::apply_manip_to_icmp_error(packet, outer, inner)) {
      verdictd::fuzz::check_icmp_error_rewrite(before, packet, outer, inner);
    } else {
      verdictd::fuzz::require(packet == before, "refused ICMP error rewrite changed the packet");
    }
  } else if (verdictd::apply_manip(packet, outer, checksum_partial)) {
    verdictd::fuzz::check_rewrite(before, packet, outer, checksum_partial);
  } else {
    verdictd::fuzz::require(packet == before, "refused rewrite changed the packet");
  }
  return 0;
}
