// -j MARK: changes the packet mark. Every form is kept as the kernel keeps
// it: clear the mask bits, then XOR the value.
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class MarkTarget final : public Target {
 public:
  MarkTarget(std::uint32_t value, std::uint32_t mask) : value_(value), mask_(mask) {}

  TargetAction apply(const PacketView& /*packet*/, EvalState& state) const override {
    state.mark = (state.mark & ~mask_) ^ value_;
    return TargetAction::kContinue;
  }

  [[nodiscard]] std::string_view name() const override { return "MARK"; }

  // iptables -L names the operation the value and mask amount to.
  [[nodiscard]] std::string list_extra() const override {
    return "MARK " + mark_operation_text(value_, mask_);
  }

  [[nodiscard]] std::string save() const override {
    return "-j MARK --set-xmark " + hex(value_) + "/" + hex(mask_);
  }

 private:
  std::uint32_t value_;
  std::uint32_t mask_;
};

constexpr std::string_view kWhat =
    R"({"set_mark"|"set_xmark"|"and_mark"|"or_mark"|"xor_mark": VALUE})";

std::unique_ptr<Target> make_mark(const TargetArgs& args) {
  if (args.options.is_null()) {
    throw FieldError("MARK needs its operation: {\"MARK\": " + std::string(kWhat) + "}");
  }
  expect_object_keys(args.options, {"set_mark", "set_xmark", "and_mark", "or_mark", "xor_mark"},
                     kWhat);
  if (args.options.size() != 1) {
    throw_expected(std::string(kWhat) + ", one operation", args.options);
  }
  const std::string& operation = args.options.begin().key();
  const Json& v = args.options.begin().value();
  try {
    const MarkOperation op = parse_mark_operation(operation, v);
    return std::make_unique<MarkTarget>(op.value, op.mask);
  } catch (FieldError& e) {
    e.pointer_suffix = "/" + operation + e.pointer_suffix;
    throw;
  }
}

const TargetRegistrar kRegistrar("MARK", make_mark);

}  // namespace

}  // namespace verdictd
