// -j CONNMARK: changes the connection's mark, or copies between it and the
// packet mark (xt_CONNMARK). A packet without a connection is left alone.
#include <algorithm>
#include <array>

#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"
#include "target/mark_operation.hpp"

namespace verdictd {

namespace {

constexpr std::uint32_t kAllBits = 0xffffffff;

enum class Operation : std::uint8_t {
  kSet,      // mark = (mark & ~ctmask) ^ ctmark
  kSave,     // from the packet mark to the connection's
  kRestore,  // from the connection's mark to the packet's
};

class ConnmarkTarget final : public Target {
 public:
  // For kSet, `value` and `ctmask` as the kernel keeps them (clear the mask
  // bits, then XOR the value); `nfmask` is unused.
  ConnmarkTarget(Operation operation, std::uint32_t value, std::uint32_t nfmask,
                 std::uint32_t ctmask)
      : operation_(operation), value_(value), nfmask_(nfmask), ctmask_(ctmask) {}

  TargetAction apply(const PacketView& /*packet*/, EvalState& state) const override {
    PacketConntrack* ct = state.conntrack;
    if (ct == nullptr || !ct->has_flow) return TargetAction::kContinue;
    std::uint32_t& connmark = ct->flow.mark;
    if (operation_ == Operation::kRestore) {
      state.mark = (state.mark & ~nfmask_) ^ (connmark & ctmask_);
      return TargetAction::kContinue;
    }
    const std::uint32_t bits = operation_ == Operation::kSet ? value_ : state.mark & nfmask_;
    const std::uint32_t changed = (connmark & ~ctmask_) ^ bits;
    if (changed != connmark) {
      connmark = changed;
      ct->connmark_changed = true;
    }
    return TargetAction::kContinue;
  }

  // iptables -L names the operation: "CONNMARK set 0x1", "CONNMARK save",
  // "CONNMARK restore ctmask 0xf0 nfmask ~0xff".
  [[nodiscard]] std::string list_extra() const override {
    switch (operation_) {
      case Operation::kSet:
        return "CONNMARK " + mark_operation_text(value_, ctmask_);
      case Operation::kSave:
        return "CONNMARK save" + copy_masks_text("nfmask ", nfmask_, "ctmask ", ctmask_);
      case Operation::kRestore:
        return "CONNMARK restore" + copy_masks_text("ctmask ", ctmask_, "nfmask ", nfmask_);
    }
    return {};
  }

  // As iptables-save: every change as --set-xmark, a copy with both masks.
  [[nodiscard]] std::string save() const override {
    if (operation_ == Operation::kSet) {
      return "-j CONNMARK --set-xmark " + hex(value_) + "/" + hex(ctmask_);
    }
    return std::string("-j CONNMARK ") +
           (operation_ == Operation::kSave ? "--save-mark" : "--restore-mark") + " --nfmask " +
           hex(nfmask_) + " --ctmask " + hex(ctmask_);
  }

 private:
  // Nothing for masks of all ones, one "mask" when they are equal, else the
  // source's mask and the complement of the destination's.
  [[nodiscard]] std::string copy_masks_text(const char* from_name, std::uint32_t from,
                                            const char* to_name, std::uint32_t to) const {
    if (nfmask_ == kAllBits && ctmask_ == kAllBits) return {};
    if (nfmask_ == ctmask_) return " mask " + hex(nfmask_);
    return " " + std::string(from_name) + hex(from) + " " + to_name + "~" + hex(to);
  }

  Operation operation_;
  std::uint32_t value_;
  std::uint32_t nfmask_;
  std::uint32_t ctmask_;
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  if (const auto op = mark_operation(options)) {
    for (const char* mask : {"nfmask", "ctmask"}) {
      if (options.has(mask)) {
        throw FieldError(R"("nfmask" and "ctmask" go only with "save_mark" or "restore_mark")",
                         "/" + std::string(mask));
      }
    }
    return std::make_unique<ConnmarkTarget>(Operation::kSet, op->value, 0, op->mask);
  }
  const auto mask = [&](const char* key) {
    return options.get_or<ValueMask>(key, ValueMask{kAllBits, kAllBits}).value;
  };
  return std::make_unique<ConnmarkTarget>(
      options.has("save_mark") ? Operation::kSave : Operation::kRestore, 0, mask("nfmask"),
      mask("ctmask"));
}

const std::array<OptionSpec, 9> kOptions = [] {
  std::array<OptionSpec, 9> options{};
  const auto operations = mark_operation_options();
  std::copy(operations.begin(), operations.end(), options.begin());
  options[5] = {.key = "save_mark",
                .flag = "--save-mark",
                .type = &value_types::flag(),
                .doc = "copy the packet's mark to the connection's"};
  options[6] = {.key = "restore_mark",
                .flag = "--restore-mark",
                .type = &value_types::flag(),
                .doc = "copy the connection's mark to the packet's"};
  options[7] = {.key = "nfmask",
                .flag = "--nfmask",
                .type = &value_types::bits32(),
                .doc = "with a copy: the bits of the packet's mark it takes or changes"};
  options[8] = {.key = "ctmask",
                .flag = "--ctmask",
                .type = &value_types::bits32(),
                .doc = "with a copy: the bits of the connection's mark it takes or changes"};
  return options;
}();
constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kExactlyOne,
      "set_mark set_xmark and_mark or_mark xor_mark save_mark restore_mark"}}};

const TargetRegistrar kRegistrar({.name = "CONNMARK",
                                  .summary = "changes the connection's mark (ctmark), or copies "
                                             "it from or to the packet's",
                                  .options = kOptions,
                                  .constraints = kConstraints,
                                  .needs = kNeedsTracking,
                                  .build = build});

}  // namespace

}  // namespace verdictd
