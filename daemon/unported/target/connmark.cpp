// -j CONNMARK: changes the connection's mark, or copies between it and the
// packet mark (xt_CONNMARK). A packet without a connection is left alone.
#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"

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

  [[nodiscard]] std::string_view name() const override { return "CONNMARK"; }
  [[nodiscard]] bool needs_conntrack() const override { return true; }

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

constexpr std::string_view kWhat =
    R"({"set_mark"|"set_xmark"|"and_mark"|"or_mark"|"xor_mark": VALUE} or {"save_mark"|"restore_mark": true} with optional "nfmask" and "ctmask")";

std::unique_ptr<Target> make_copy(const Json& options, Operation operation,
                                  const std::string& key) {
  if (options[key] != true) {
    throw FieldError("expected true, got " + options[key].dump(), "/" + key);
  }
  std::uint32_t nfmask = kAllBits;
  std::uint32_t ctmask = kAllBits;
  for (const auto& [mask_key, mask] :
       {std::pair{"nfmask", &nfmask}, std::pair{"ctmask", &ctmask}}) {
    if (!options.contains(mask_key)) continue;
    try {
      *mask = parse_mark_bits(options[mask_key]);
    } catch (FieldError& e) {
      e.pointer_suffix = "/" + std::string(mask_key) + e.pointer_suffix;
      throw;
    }
  }
  return std::make_unique<ConnmarkTarget>(operation, 0, nfmask, ctmask);
}

std::unique_ptr<Target> make_set(const std::string& key, const Json& v) {
  try {
    const MarkOperation op = parse_mark_operation(key, v);
    return std::make_unique<ConnmarkTarget>(Operation::kSet, op.value, 0, op.mask);
  } catch (FieldError& e) {
    e.pointer_suffix = "/" + key + e.pointer_suffix;
    throw;
  }
}

std::unique_ptr<Target> make_connmark(const TargetArgs& args) {
  if (args.options.is_null()) {
    throw FieldError("CONNMARK needs its operation: {\"CONNMARK\": " + std::string(kWhat) + "}");
  }
  expect_object_keys(args.options,
                     {"set_mark", "set_xmark", "and_mark", "or_mark", "xor_mark", "save_mark",
                      "restore_mark", "nfmask", "ctmask"},
                     kWhat);
  std::vector<std::string> operations;
  for (const auto& [key, value] : args.options.items()) {
    if (key != "nfmask" && key != "ctmask") operations.push_back(key);
  }
  if (operations.size() != 1) throw_expected(std::string(kWhat) + ", one operation", args.options);
  const std::string& operation = operations.front();
  if (operation == "save_mark") return make_copy(args.options, Operation::kSave, operation);
  if (operation == "restore_mark") return make_copy(args.options, Operation::kRestore, operation);
  if (args.options.size() != 1) {
    throw_expected("\"nfmask\" and \"ctmask\" only with \"save_mark\" or \"restore_mark\"",
                   args.options);
  }
  return make_set(operation, args.options[operation]);
}

const TargetRegistrar kRegistrar("CONNMARK", make_connmark);

}  // namespace

}  // namespace verdictd
