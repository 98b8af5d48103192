// What a rule may read and change about a packet besides its bytes: the hook,
// the interfaces it came in on and goes out of, and its mark.
#pragma once

#include <cstdint>
#include <string_view>

#include "ruleset/hooks.hpp"

namespace verdictd {

struct EvalState {
  Hook hook = Hook::kInput;
  std::string_view in_interface;           // empty when the hook has none
  std::string_view out_interface;          // empty when the hook has none
  std::uint32_t mark = 0;                  // changed by MARK; sent back with the verdict
  bool first_packet_of_connection = true;  // nat chains run only when true
  // Set by a match that cannot read the transport header it needs: the
  // kernel drops such a packet on the spot ("hotdrop"), and so do we.
  bool hotdrop = false;
};

}  // namespace verdictd
