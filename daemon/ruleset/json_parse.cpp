#include "ruleset/json_parse.hpp"

#include <nlohmann/json.hpp>
#include <vector>

#include "text/json_position.hpp"

namespace verdictd {

namespace {

// nlohmann's SAX interface, building the value as json_sax_dom_parser does
// but appending object members without looking for their key.
class ValueBuilder {
 public:
  // Stops at an array or object nested deeper than `max_depth`.
  explicit ValueBuilder(std::size_t max_depth) : max_depth_(max_depth) {}
  // It holds pointers into the value it builds.
  ValueBuilder(const ValueBuilder&) = delete;
  ValueBuilder& operator=(const ValueBuilder&) = delete;
  ValueBuilder(ValueBuilder&&) = delete;
  ValueBuilder& operator=(ValueBuilder&&) = delete;
  ~ValueBuilder() = default;

  bool null() { return add(Json(nullptr)); }
  bool boolean(bool value) { return add(Json(value)); }
  bool number_integer(Json::number_integer_t value) { return add(Json(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return add(Json(value)); }
  bool number_float(Json::number_float_t value, const Json::string_t& /*text*/) {
    return add(Json(value));
  }
  bool string(Json::string_t& value) { return add(Json(std::move(value))); }
  bool binary(Json::binary_t& /*value*/) { return false; }  // only in binary formats
  bool start_object(std::size_t /*elements*/) { return open(Json::object()); }
  bool key(Json::string_t& key) {
    key_ = std::move(key);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(Json::array()); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t position, const std::string& token, const Json::exception& e) {
    if (e.id == kNumberOverflow) {
      error_ = {position - token.size(),
                "expected a number within the range of a double, got " + token};
      return false;
    }
    // nlohmann's text: "[json.exception.parse_error.101] parse error at line 1, column 2: DETAIL".
    const std::string what = e.what();
    const auto detail = what.rfind(": ");
    error_ = {
        position > 0 ? position - 1 : 0,
        "expected valid JSON: " + (detail == std::string::npos ? what : what.substr(detail + 2))};
    return false;
  }

  [[nodiscard]] bool too_deep() const { return too_deep_; }
  [[nodiscard]] const JsonParseError& error() const { return error_; }
  Json& value() { return value_; }

 private:
  static constexpr int kNumberOverflow = 406;  // out_of_range.406

  // Puts `value` where the text has it; the address it now has.
  Json* place(Json value) {
    if (open_.empty()) {
      value_ = std::move(value);
      return &value_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      auto& elements = parent.get_ref<Json::array_t&>();
      elements.push_back(std::move(value));
      return &elements.back();
    }
    // ordered_map is a vector of members; its own emplace searches it first.
    auto& members = parent.get_ref<Json::object_t&>();
    members.emplace_back(std::move(key_), std::move(value));
    return &members.back().second;
  }
  bool add(Json value) {
    place(std::move(value));
    return true;
  }
  // The open objects and arrays are never moved: their parents grow only
  // after they are closed.
  bool open(Json empty) {
    if (open_.size() == max_depth_) {
      too_deep_ = true;
      return false;
    }
    open_.push_back(place(std::move(empty)));
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  std::size_t max_depth_;
  Json value_;
  std::vector<Json*> open_;
  Json::string_t key_;
  JsonParseError error_{};
  bool too_deep_ = false;
};

}  // namespace

Json parse_json(std::string_view text) {
  ValueBuilder builder(kMaxJsonDepth);
  if (!Json::sax_parse(text, &builder)) {
    if (builder.too_deep()) {
      throw JsonParseError{offset_of_depth(text, kMaxJsonDepth + 1),
                           "expected at most " + std::to_string(kMaxJsonDepth) +
                               " levels of nested arrays and objects"};
    }
    throw builder.error();
  }
  return std::move(builder.value());
}

}  // namespace verdictd
