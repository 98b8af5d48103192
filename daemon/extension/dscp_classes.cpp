#include "extension/dscp_classes.hpp"

#include <array>
#include <string_view>

namespace verdictd {

namespace {

struct DscpClass {
  std::string_view name;
  std::uint8_t dscp;
};
constexpr std::array<DscpClass, 22> kClasses = {{
    {"CS0", 0x00},  {"CS1", 0x08},  {"CS2", 0x10},  {"CS3", 0x18},  {"CS4", 0x20},  {"CS5", 0x28},
    {"CS6", 0x30},  {"CS7", 0x38},  {"BE", 0x00},   {"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
    {"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16}, {"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
    {"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26}, {"EF", 0x2e},
}};
constexpr std::array<std::string_view, kClasses.size()> kClassNames = [] {
  std::array<std::string_view, kClasses.size()> names{};
  for (std::size_t i = 0; i < kClasses.size(); ++i) names[i] = kClasses[i].name;
  return names;
}();

}  // namespace

const ChoiceType& dscp_class_type() {
  static const ChoiceType type("DSCP class", kClassNames);
  return type;
}

std::uint8_t dscp_of_class(std::uint64_t index) { return kClasses.at(index).dscp; }

}  // namespace verdictd
