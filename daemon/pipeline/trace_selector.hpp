// The packets `verdictctl trace FILTER` follows without a TRACE rule in the
// ruleset: a rule's "match" object (-p tcp --dport 22 is {"protocol": "tcp",
// "dport": 22}), tried on each packet as it enters a hook, before its
// connection is looked up. Any match that keeps no state may be used.
#pragma once

#include <memory>
#include <vector>

#include "extension/eval_state.hpp"
#include "extension/match.hpp"
#include "packet/packet.hpp"

namespace verdictd {

class TraceSelector {
 public:
  // Throws FieldError (extension/error.hpp), its pointer suffix leading into
  // `match_object`, for a bad match or one that keeps state.
  explicit TraceSelector(const Json& match_object);

  [[nodiscard]] bool selects(const PacketView& packet, EvalState& state) const;

 private:
  std::vector<std::unique_ptr<Match>> matches_;
};

// A selector and who follows the packets it selects (PacketTrace::readers).
struct TraceSelection {
  const TraceSelector* selector = nullptr;
  std::uint64_t reader = 0;
};

}  // namespace verdictd
