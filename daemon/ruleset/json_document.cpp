#include "ruleset/json_document.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ruleset/json_position.hpp"

namespace verdictd {

JsonDocument::JsonDocument(std::string text, std::string file)
    : text_(std::move(text)), file_(std::move(file)) {
  try {
    root_ = nlohmann::ordered_json::parse(text_);
  } catch (const nlohmann::ordered_json::parse_error& e) {
    const TextPosition pos = position_of_offset(text_, e.byte > 0 ? e.byte - 1 : 0);
    // nlohmann's text starts "[json.exception.parse_error.101] parse error at line 1, ...: ".
    const std::string what = e.what();
    const auto detail = what.rfind(": ");
    throw RulesetError(
        file_, pos.line, pos.column, "",
        "expected valid JSON: " + (detail == std::string::npos ? what : what.substr(detail + 2)));
  }
  if (auto duplicate = find_duplicate_key(text_)) {
    const TextPosition pos = position_of_offset(text_, duplicate->offset);
    throw RulesetError(file_, pos.line, pos.column, duplicate->pointer,
                       "duplicate key; each key may appear once in an object");
  }
}

JsonDocument JsonDocument::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw RulesetError(path, 0, 0, "", std::string("cannot open: ") + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return JsonDocument(text.str(), path);
}

RulesetError JsonDocument::error_at(const std::string& pointer, const std::string& message) const {
  const TextPosition pos = position_of_pointer(text_, pointer);
  return {file_, pos.line, pos.column, pointer, message};
}

}  // namespace verdictd
