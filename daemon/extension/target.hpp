// A target extension as the engine runs it: what a rule does once all its
// matches pass, built from its description (extension/description.hpp).
// Each extension lives in one file of daemon/target/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "extension/description.hpp"
#include "extension/eval_state.hpp"
#include "extension/extension_state.hpp"
#include "packet/packet.hpp"

namespace verdictd {

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
  // A target that names an address of one family restricts the rule to it
  // (DNAT, SNAT, NETMAP), as a match does.
  [[nodiscard]] virtual std::optional<Family> family() const { return std::nullopt; }
  // Text appended to the rule's listing ("MARK set 0x1"), empty if none.
  [[nodiscard]] virtual std::string list_extra() const { return {}; }
  // The iptables-save form: "-j MARK --set-xmark 0x1/0xffffffff"; by
  // default the name and the options, from the description.
  [[nodiscard]] virtual std::string save() const;
  // As list_extra() and save(), for a rule shown for `family`: a target whose
  // text depends on it (REJECT's default type) overrides these.
  [[nodiscard]] virtual std::string list_extra_for(Family /*family*/) const { return list_extra(); }
  [[nodiscard]] virtual std::string save_for(Family /*family*/) const { return save(); }
  [[nodiscard]] virtual HookMask allowed_hooks() const { return spec().hooks; }

  // The name shown in the target column of `iptables -L` ("ACCEPT", "MARK").
  [[nodiscard]] std::string_view name() const {
    return spec_->real_name.empty() ? spec_->name : spec_->real_name;
  }
  [[nodiscard]] const TargetSpec& spec() const { return *spec_; }
  [[nodiscard]] const OptionValues& options() const { return options_; }
  // True for targets that read or change the packet's connection.
  [[nodiscard]] bool needs_conntrack() const { return (spec_->needs & kNeedsTracking) != 0; }

  // Called once by the loader after build: what the target was built from.
  void describe(const TargetSpec& spec, OptionValues options) {
    spec_ = &spec;
    options_ = std::move(options);
  }

 private:
  const TargetSpec* spec_ = nullptr;
  OptionValues options_;
};

}  // namespace verdictd
