// The verdicts ACCEPT and DROP, and RETURN.
#include "extension/target.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class StandardTarget final : public Target {
 public:
  explicit StandardTarget(TargetAction action) : action_(action) {}

  TargetAction apply(const PacketView& /*packet*/, EvalState& /*state*/) const override {
    return action_;
  }

  [[nodiscard]] std::string_view name() const override {
    switch (action_) {
      case TargetAction::kAccept:
        return "ACCEPT";
      case TargetAction::kDrop:
        return "DROP";
      case TargetAction::kReturn:
        return "RETURN";
      case TargetAction::kContinue:
        break;
    }
    return {};
  }

  [[nodiscard]] std::string save() const override { return "-j " + std::string(name()); }

  // The nat table may not drop packets.
  [[nodiscard]] bool allowed_in(TableId table) const override {
    return action_ != TargetAction::kDrop || table != TableId::kNat;
  }

 private:
  TargetAction action_;
};

template <TargetAction kAction>
std::unique_ptr<Target> make_standard(const TargetArgs& args) {
  if (!args.options.is_null()) {
    throw_expected("no options (write \"" + std::string(args.name) + "\" as a string)",
                   args.options);
  }
  return std::make_unique<StandardTarget>(kAction);
}

const TargetRegistrar kAccept("ACCEPT", make_standard<TargetAction::kAccept>);
const TargetRegistrar kDrop("DROP", make_standard<TargetAction::kDrop>);
const TargetRegistrar kReturn("RETURN", make_standard<TargetAction::kReturn>);

}  // namespace

}  // namespace verdictd
