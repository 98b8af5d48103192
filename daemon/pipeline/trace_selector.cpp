#include "pipeline/trace_selector.hpp"

#include <nlohmann/json.hpp>

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"
#include "text/json_position.hpp"

namespace verdictd {

TraceSelector::TraceSelector(const Json& match_object) {
  if (!match_object.is_object()) {
    throw FieldError("expected an object of matches, as a rule's \"match\", got " +
                     match_object.dump());
  }
  // The filter table's matches: every match is allowed there.
  for (BuiltMatch& built : build_matches(match_object, TableId::kFilter)) {
    // A selector is tried by every worker at once, outside any ruleset,
    // where no state could be kept for it.
    if (built.match->make_state() != nullptr) {
      throw FieldError(
          "match " + Json(built.key).dump() + " keeps state and cannot select packets to trace",
          "/" + json_pointer_token(built.key));
    }
    matches_.push_back(std::move(built.match));
  }
}

bool TraceSelector::selects(const PacketView& packet, EvalState& state) const {
  state.extension_state = nullptr;
  bool selected = true;
  for (const auto& match : matches_) {
    const auto family = match->family();
    if ((family && (!packet.has_network || *family != packet.family)) ||
        !match->matches(packet, state)) {
      selected = false;
      break;
    }
  }
  // A header a selector cannot read only leaves the packet unselected; the
  // rules decide whether it is dropped.
  state.hotdrop = false;
  return selected;
}

}  // namespace verdictd
