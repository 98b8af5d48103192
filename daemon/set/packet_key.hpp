// What a packet is as an element of a set, as the kernel's kadt functions
// read it: each dimension from the source or the destination, as the set
// match's and SET target's "src,dst" flags say.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "extension/eval_state.hpp"
#include "packet/packet.hpp"
#include "set/set_element.hpp"

namespace verdictd {

inline constexpr std::size_t kMaxDirections = 6;  // IPSET_DIM_MAX

// Per dimension, source (true) or destination.
struct SetDirections {
  std::array<bool, kMaxDirections> source{};
  std::size_t count = 0;

  // "src", "src,dst", up to six; nullopt for anything else.
  static std::optional<SetDirections> parse(std::string_view text);
  [[nodiscard]] std::string text() const;
};

// The packet's key for `codec`'s type; false when the packet has no such
// element (a port of a fragment, no input interface, ...), as the kernel's
// kadt then fails and the set does not match.
bool packet_key(const ElementCodec& codec, const PacketView& packet, const EvalState& state,
                const SetDirections& directions, SetKey& key);

}  // namespace verdictd
