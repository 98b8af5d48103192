// -j MARK: changes the packet mark. Every form is kept as the kernel keeps
// it: clear the mask bits, then XOR the value.
#include "ruleset/error.hpp"
#include "ruleset/values.hpp"
#include "target/target.hpp"

namespace verdictd {

namespace {

constexpr std::uint32_t kAllBits = 0xffffffff;

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
    if (value_ == 0) {
      return "MARK and " + hex(~mask_);
    }
    if (value_ == mask_) {
      return "MARK or " + hex(value_);
    }
    if (mask_ == 0) {
      return "MARK xor " + hex(value_);
    }
    if (mask_ == kAllBits) {
      return "MARK set " + hex(value_);
    }
    return "MARK xset " + hex(value_) + "/" + hex(mask_);
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

// and_mark, or_mark and xor_mark take bits without a mask.
std::uint32_t parse_bits(const Json& v) {
  constexpr std::string_view kWhatBits = "a 32-bit value such as \"0xff\", without a mask";
  if (v.is_string() && v.get_ref<const std::string&>().find('/') != std::string::npos) {
    throw_expected(kWhatBits, v);
  }
  return parse_value_mask(v, kWhatBits).first;
}

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
    if (operation == "and_mark") {
      return std::make_unique<MarkTarget>(0, ~parse_bits(v));
    }
    if (operation == "or_mark") {
      const std::uint32_t bits = parse_bits(v);
      return std::make_unique<MarkTarget>(bits, bits);
    }
    if (operation == "xor_mark") {
      return std::make_unique<MarkTarget>(parse_bits(v), 0);
    }
    const auto [value, mask] = parse_value_mask(v, "a mark \"value\" or \"value/mask\" of 32 bits");
    // --set-mark clears the mask bits and ORs the value: clearing the value's
    // bits too turns the OR into the kernel's XOR.
    if (operation == "set_mark") {
      return std::make_unique<MarkTarget>(value, mask | value);
    }
    return std::make_unique<MarkTarget>(value, mask);
  } catch (FieldError& e) {
    e.pointer_suffix = "/" + operation + e.pointer_suffix;
    throw;
  }
}

const TargetRegistrar kRegistrar("MARK", make_mark);

}  // namespace

}  // namespace verdictd
