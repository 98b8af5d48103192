#include "set/set_option_types.hpp"

#include <nlohmann/json.hpp>

#include "extension/values.hpp"
#include "set/packet_key.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kMaxName = 31;

class SetNameType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "set name"; }
  [[nodiscard]] Json example() const override { return "blocklist"; }
  [[nodiscard]] std::string syntax() const override {
    return "the name of a set the ruleset declares, 1 to 31 characters";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > kMaxName) {
      throw_expected(syntax(), v);
    }
    return v.get<std::string>();
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"minLength", 1}, {"maxLength", kMaxName}};
  }
};

class SetFlagsType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "set flags"; }
  [[nodiscard]] Json example() const override { return "src"; }
  [[nodiscard]] std::string syntax() const override {
    return R"("src" or "dst" per dimension, comma-separated, at most 6)";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_string() || !SetDirections::parse(v.get<std::string>())) throw_expected(syntax(), v);
    return v.get<std::string>();
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"pattern", "^(src|dst)(,(src|dst)){0,5}$"}};
  }
};

}  // namespace

const ValueType& set_name_type() {
  static const SetNameType type;
  return type;
}

const ValueType& set_flags_type() {
  static const SetFlagsType type;
  return type;
}

}  // namespace verdictd
