// A target extension: what a rule does once all its matches pass. Each
// extension lives in one file of daemon/target/ and registers itself by name.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "extension/eval_state.hpp"
#include "extension/extension_state.hpp"
#include "packet/hooks.hpp"
#include "packet/packet.hpp"

namespace verdictd {

using Json = nlohmann::ordered_json;

enum class TargetAction : std::uint8_t {
  kContinue,  // go on with the next rule (MARK, and rules without target)
  kAccept,    // end this table at this hook; the next table runs
  kDrop,      // end the packet
  kReturn,    // back to the calling chain, or the policy of a built-in chain
};

class Target : public StatefulExtension {
 public:
  Target() = default;
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;
  Target(Target&&) = delete;
  Target& operator=(Target&&) = delete;
  ~Target() override = default;

  virtual TargetAction apply(const PacketView& packet, EvalState& state) const = 0;
  // The name shown in the target column of `iptables -L` ("ACCEPT", "MARK").
  [[nodiscard]] virtual std::string_view name() const = 0;
  // A target that names an address of one family restricts the rule to it
  // (DNAT, SNAT, NETMAP), as a match does.
  [[nodiscard]] virtual std::optional<Family> family() const { return std::nullopt; }
  // Text appended to the rule's listing ("MARK set 0x1"), empty if none.
  [[nodiscard]] virtual std::string list_extra() const { return {}; }
  // The iptables-save form: "-j MARK --set-xmark 0x1/0xffffffff".
  [[nodiscard]] virtual std::string save() const = 0;
  [[nodiscard]] virtual HookMask allowed_hooks() const { return kEveryHook; }
  // True for targets that read or change the packet's connection.
  [[nodiscard]] virtual bool needs_conntrack() const { return false; }
  // Tables that accept this target; a refused table is reported by the loader.
  [[nodiscard]] virtual bool allowed_in(TableId /*table*/) const { return true; }
};

struct TargetArgs {
  std::string_view name;
  const Json& options;  // the object after the name, or null for a bare string
  const Json& rule_match;
  TableId table;
};

using TargetFactory = std::unique_ptr<Target> (*)(const TargetArgs& args);

void register_target(std::string_view name, TargetFactory factory);
TargetFactory find_target(std::string_view name);

struct TargetRegistrar {
  TargetRegistrar(std::string_view name, TargetFactory factory) { register_target(name, factory); }
};

}  // namespace verdictd
