#include "nat/nat_translation.hpp"

namespace verdictd {

namespace {

bool is_icmp(const Tuple& t) {
  return t.protocol == ipproto::kIcmp || t.protocol == ipproto::kIcmpv6;
}

// Makes `side` of a packet look like `side` of `tuple`. An ICMP query keeps
// its identifier in the source port of the tuple, whichever the side.
NatManip manip_towards(ManipSide side, const Tuple& tuple) {
  const bool source = side == ManipSide::kSource;
  const std::uint16_t port = is_icmp(tuple) || source ? tuple.source_port : tuple.destination_port;
  return {.side = side, .address = source ? tuple.source : tuple.destination, .port = port};
}

}  // namespace

std::uint8_t nat_manip_of(Hook hook) {
  switch (hook) {
    case Hook::kPrerouting:
    case Hook::kOutput:
      return natmanip::kDestination;
    case Hook::kInput:
    case Hook::kPostrouting:
      return natmanip::kSource;
    case Hook::kForward:
      return 0;
  }
  return 0;
}

std::optional<NatTranslation> nat_translation(Hook hook, const Flow& flow, Direction direction) {
  const std::uint8_t manip = nat_manip_of(hook);
  if (manip == 0) return std::nullopt;
  const bool reply = direction == Direction::kReply;
  // The side a binding changed for the original direction; a reply gets the
  // other side changed back.
  const bool source_changed = (flow.status & ctstatus::kSrcNat) != 0;
  const bool destination_changed = (flow.status & ctstatus::kDstNat) != 0;
  const bool applies = manip == natmanip::kSource ? (reply ? destination_changed : source_changed)
                                                  : (reply ? source_changed : destination_changed);
  if (!applies) return std::nullopt;
  // The packet must look like the answer to the other direction's tuple.
  const Tuple& other = reply ? flow.original : flow.reply;
  const auto target = reply_tuple(other);
  if (!target) return std::nullopt;
  const ManipSide side = manip == natmanip::kSource ? ManipSide::kSource : ManipSide::kDestination;
  const ManipSide inner_side =
      side == ManipSide::kSource ? ManipSide::kDestination : ManipSide::kSource;
  return NatTranslation{.outer = manip_towards(side, *target),
                        .inner = manip_towards(inner_side, other)};
}

}  // namespace verdictd
