#include "service/recent_command.hpp"

#include <string>

#include "match/recent_table.hpp"

namespace verdictd {

using Json = nlohmann::ordered_json;

namespace {

Json failure(const std::string& error) { return {{"ok", false}, {"error", error}}; }

}  // namespace

Json recent_command(const RulesetState& state, const Json& request) {
  const std::string action = request.value("action", "");
  const std::string name = request.value("name", "");
  const auto table = std::dynamic_pointer_cast<RecentTable>(
      state.named(StateName{.kind = std::string(kRecentStateKind), .name = name}));
  if (table == nullptr) return failure("no rule uses a recent list named " + Json(name).dump());
  if (action == "list") return {{"ok", true}, {"text", table->text()}};
  if (action == "flush") {
    table->flush();
    return {{"ok", true}, {"text", ""}};
  }
  if (action != "add" && action != "del") {
    return failure("unknown recent action " + Json(action).dump());
  }
  const std::optional<IpAddress> address = IpAddress::parse(request.value("address", ""));
  if (!address) {
    return failure("expected an IPv4 or IPv6 address, got " + request.value("address", "nothing"));
  }
  if (action == "add") {
    table->add(*address, jiffies_now());
  } else if (!table->remove(*address)) {
    return failure(address->to_string() + " is not in the list " + name);
  }
  return {{"ok", true}, {"text", ""}};
}

}  // namespace verdictd
