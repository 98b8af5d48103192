// JSON text into a value, in time and memory linear in the text, with the
// depth bounded. nlohmann's own DOM parser adds each member of an object
// after a linear search of the members before it (quadratic in an object's
// size: a table of 100k chains), and bounds no depth, on which its
// serializer, copies and comparisons recurse.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "extension/values.hpp"

namespace verdictd {

// Far deeper than any ruleset or settings file nests (about ten levels),
// shallow enough for every recursion on a value to stay small.
inline constexpr std::size_t kMaxJsonDepth = 256;

// Where the text stops being acceptable (a byte offset) and what was expected there.
struct JsonParseError {
  std::size_t offset;
  std::string message;
};

// The value of the text: objects keep their members in written order, a
// repeated key included (find_duplicate_key refuses those). Throws
// JsonParseError for a syntax error, a number out of range or nesting deeper
// than kMaxJsonDepth.
Json parse_json(std::string_view text);

}  // namespace verdictd
