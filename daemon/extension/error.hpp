// Errors found while loading a ruleset. Extensions throw FieldError naming
// what they expected; the loader turns it into a RulesetError with the file,
// line, column and JSON pointer of the offending value.
#pragma once

#include <stdexcept>
#include <string>

namespace verdictd {

// Thrown by value parsers and extensions. `pointer_suffix` is appended to the
// pointer of the value being parsed ("" for the value itself, "/2" for its
// third element, "/set_mark" for a member).
struct FieldError : std::runtime_error {
  explicit FieldError(const std::string& message, std::string suffix = {})
      : std::runtime_error(message), pointer_suffix(std::move(suffix)) {}
  std::string pointer_suffix;
};

// what() is "FILE:LINE:COLUMN: POINTER: MESSAGE", or "FILE: MESSAGE" for an
// error about the whole file (line 0).
struct RulesetError : std::runtime_error {
  RulesetError(std::string file, int line, int column, std::string pointer, std::string message);
  std::string file;
  int line;
  int column;
  std::string pointer;
  std::string message;  // without location, e.g. `expected a port 0-65535 or "lo:hi", got "70000"`
};

}  // namespace verdictd
