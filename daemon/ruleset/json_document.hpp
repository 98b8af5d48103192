// JSON files as people write them: read, parsed, and refused with the file,
// line and column of the fault (syntax errors, repeated keys, bad values).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ruleset/error.hpp"

namespace verdictd {

class JsonDocument {
 public:
  // Throws RulesetError for a syntax error or a repeated key.
  JsonDocument(std::string text, std::string file);
  // Throws RulesetError("FILE: cannot open: REASON") when the file cannot be read.
  static JsonDocument read(const std::string& path);

  [[nodiscard]] const nlohmann::ordered_json& root() const { return root_; }
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] const std::string& text() const { return text_; }
  // The error for the value at `pointer`, located in the text.
  [[nodiscard]] RulesetError error_at(const std::string& pointer, const std::string& message) const;

 private:
  std::string text_;
  std::string file_;
  nlohmann::ordered_json root_;
};

}  // namespace verdictd
