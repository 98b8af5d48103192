#include "target/mark_operation.hpp"

#include <algorithm>

namespace verdictd {

namespace {

constexpr std::array<std::string_view, 5> kKeys = {"set_mark", "set_xmark", "and_mark", "or_mark",
                                                   "xor_mark"};

}  // namespace

std::array<OptionSpec, 5> mark_operation_options() {
  return {{{.key = "set_mark",
            .flag = "--set-mark",
            .type = &value_types::value_mask(),
            .doc = "clear the mask's bits, then set the value's"},
           {.key = "set_xmark",
            .flag = "--set-xmark",
            .type = &value_types::value_mask(),
            .doc = "clear the mask's bits, then XOR the value in"},
           {.key = "and_mark",
            .flag = "--and-mark",
            .type = &value_types::bits32(),
            .doc = "keep only these bits"},
           {.key = "or_mark",
            .flag = "--or-mark",
            .type = &value_types::bits32(),
            .doc = "set these bits"},
           {.key = "xor_mark",
            .flag = "--xor-mark",
            .type = &value_types::bits32(),
            .doc = "flip these bits"}}};
}

std::optional<MarkOperation> mark_operation(const OptionValues& options) {
  for (const OptionValue& option : options.all()) {
    const std::string_view key = option.spec->key;
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) continue;
    const auto& [value, mask] = std::get<ValueMask>(option.value);
    if (key == "and_mark") return MarkOperation{0, ~value};
    if (key == "or_mark") return MarkOperation{value, value};
    if (key == "xor_mark") return MarkOperation{value, 0};
    // --set-mark clears the mask bits and ORs the value: clearing the value's
    // bits too turns the OR into the kernel's XOR.
    return MarkOperation{value, key == "set_mark" ? mask | value : mask};
  }
  return std::nullopt;
}

}  // namespace verdictd
