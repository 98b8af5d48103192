// The words of an iptables command line, each with the column it starts at,
// as iptables-restore splits a rule line and as a shell splits a script's
// line, so that an import error can name the line and column.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace verdictd {

struct Argument {
  std::string text;
  std::size_t column = 0;  // 1-based, in bytes, where the word starts
};
using Arguments = std::vector<Argument>;

// An error in a line of input, at `column` (1-based; 0 for the line as a
// whole). iptables calls these parameter problems (exit status 2).
struct ImportError : std::runtime_error {
  ImportError(const std::string& message, std::size_t at_column)
      : std::runtime_error(message), column(at_column) {}
  std::size_t column;
};

// An ImportError placed in its input: what() is "FILE:LINE:COLUMN: MESSAGE"
// (":COLUMN" left out when it is 0).
struct LineError : std::runtime_error {
  LineError(const std::string& file, std::size_t line, std::size_t column,
            const std::string& message, int exit_status = 2);
  std::size_t line;
  std::size_t column;
  // As iptables-restore exits: 2 for a line it cannot parse, 1 for a
  // command the tables refuse.
  int status;
};

// The lines of an input, without their "\n" or "\r\n"; line i + 1 is [i].
std::vector<std::string_view> input_lines(std::string_view text);

// A rule line of an iptables-restore file split as add_param_to_argv splits
// it: blanks separate words, double quotes group them and a backslash inside
// them escapes the next character; single quotes are ordinary characters.
// Throws ImportError for unterminated quotes.
Arguments split_restore_line(std::string_view line);

// A line of a shell script split into words as sh does for a simple command:
// single quotes, double quotes with backslash escapes, backslashes outside
// quotes, and $NAME or ${NAME} replaced by `lookup` (a variable it does not
// know is refused, as the script's outcome would depend on the environment).
// Stops at an unquoted '#' that starts a word. Throws ImportError.
Arguments split_shell_line(
    std::string_view line,
    const std::function<std::optional<std::string>(const std::string&)>& lookup);

}  // namespace verdictd
