#include "extension/error.hpp"

namespace verdictd {
namespace {

// "FILE:LINE:COLUMN: POINTER: MESSAGE"; an error about the file as a whole
// (line 0: it cannot be opened, it is too big) has no position to show.
std::string located(const std::string& file, int line, int column, const std::string& pointer,
                    const std::string& message) {
  std::string text = file;
  if (line > 0) text += ":" + std::to_string(line) + ":" + std::to_string(column);
  text += ": ";
  if (!pointer.empty()) text += pointer + ": ";
  return text + message;
}

}  // namespace

RulesetError::RulesetError(std::string file_name, int line_number, int column_number,
                           std::string json_pointer, std::string what_expected)
    : std::runtime_error(
          located(file_name, line_number, column_number, json_pointer, what_expected)),
      file(std::move(file_name)),
      line(line_number),
      column(column_number),
      pointer(std::move(json_pointer)),
      message(std::move(what_expected)) {}

}  // namespace verdictd
