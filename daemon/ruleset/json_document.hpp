// JSON files as people write them: read, parsed, and refused with the file,
// line and column of the fault (syntax errors, repeated keys, bad values).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "extension/error.hpp"

namespace verdictd {

// The most bytes a file may have, checked before it is read, and how the
// reader raises it (for the error; empty if it cannot be raised).
struct SizeLimit {
  std::size_t bytes;
  std::string raise_with;
};

// A file's text, refused as JsonDocument::read refuses it.
std::string read_text_file(const std::string& path, const SizeLimit& limit);

class JsonDocument {
 public:
  // Throws RulesetError for a syntax error, a repeated key, a number out of
  // range or nesting deeper than kMaxJsonDepth. Time and memory are linear
  // in the size of the text, and nothing recurses on its depth.
  JsonDocument(std::string text, std::string file);
  // Throws RulesetError("FILE: cannot open: REASON") when the file cannot
  // be read, and one naming the limit when it is larger.
  static JsonDocument read(const std::string& path, const SizeLimit& limit);

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
