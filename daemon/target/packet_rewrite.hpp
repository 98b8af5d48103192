// What the mangle targets (TOS, DSCP, TTL, HL, TCPMSS, ECN) share: rewriting
// the packet's bytes in place so that later rules and the verdict see the
// change (extension/working_packet.hpp), and the kernel's way of changing
// the DS field.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "extension/eval_state.hpp"
#include "extension/target.hpp"
#include "extension/working_packet.hpp"
#include "packet/address.hpp"
#include "packet/hooks.hpp"

namespace verdictd {

// Runs `edit` over the packet's bytes (a std::vector<std::uint8_t>&,
// network header first, with final checksums), then shows the later rules
// the result. The kernel rewrites the skb; a packet the queue cut short
// cannot be handed back rewritten, so it is dropped, as NAT drops it.
template <class Edit>
TargetAction rewrite_packet(EvalState& state, Edit&& edit) {
  std::vector<std::uint8_t>* bytes = state.working == nullptr ? nullptr : state.working->bytes();
  if (bytes == nullptr) return TargetAction::kDrop;
  edit(*bytes);
  state.working->reparse();
  return TargetAction::kContinue;
}

// Sets the DS field (the IPv4 TOS byte, or the IPv6 traffic class) to
// `value`, updating the IPv4 header checksum, as the kernel's
// ipv4_change_dsfield and ipv6_change_dsfield do.
void write_dsfield(std::span<std::uint8_t> packet, Family family, std::uint8_t value);

// The tables TOS, DSCP, TTL, HL and ECN are registered for (xt_target.table).
inline constexpr std::array<TableId, 1> kMangleTable = {TableId::kMangle};

}  // namespace verdictd
