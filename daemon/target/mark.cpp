// -j MARK: changes the packet mark. Every form is kept as the kernel keeps
// it: clear the mask bits, then XOR the value.
#include <array>

#include "extension/target.hpp"
#include "extension/values.hpp"
#include "target/mark_operation.hpp"

namespace verdictd {

namespace {

class MarkTarget final : public Target {
 public:
  MarkTarget(std::uint32_t value, std::uint32_t mask) : value_(value), mask_(mask) {}

  TargetAction apply(const PacketView& /*packet*/, EvalState& state) const override {
    state.mark = (state.mark & ~mask_) ^ value_;
    return TargetAction::kContinue;
  }

  // iptables -L names the operation the value and mask amount to.
  [[nodiscard]] std::string list_extra() const override {
    return "MARK " + mark_operation_text(value_, mask_);
  }

  // iptables-save prints every form as the kernel keeps it.
  [[nodiscard]] std::string save() const override {
    return "-j MARK --set-xmark " + hex(value_) + "/" + hex(mask_);
  }

 private:
  std::uint32_t value_;
  std::uint32_t mask_;
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  const MarkOperation op = *mark_operation(options);
  return std::make_unique<MarkTarget>(op.value, op.mask);
}

const std::array<OptionSpec, 5> kOptions = mark_operation_options();
constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kExactlyOne, kMarkOperationKeys}}};

const TargetRegistrar kRegistrar({.name = "MARK",
                                  .summary = "changes the packet's mark (nfmark)",
                                  .options = kOptions,
                                  .constraints = kConstraints,
                                  .build = build});

}  // namespace

}  // namespace verdictd
