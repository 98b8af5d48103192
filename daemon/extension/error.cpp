#include "extension/error.hpp"

namespace verdictd {

RulesetError::RulesetError(std::string file_name, int line_number, int column_number,
                           std::string json_pointer, std::string what_expected)
    : std::runtime_error(
          file_name + ":" + std::to_string(line_number) + ":" + std::to_string(column_number) +
          ": " + (json_pointer.empty() ? std::string() : json_pointer + ": ") + what_expected),
      file(std::move(file_name)),
      line(line_number),
      column(column_number),
      pointer(std::move(json_pointer)),
      message(std::move(what_expected)) {}

}  // namespace verdictd
