// Where a value sits in JSON text, so errors can name file:line:column.
// nlohmann::json keeps no positions, so the text is scanned again on demand
// (only when there is an error to report).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace verdictd {

struct TextPosition {
  int line = 1;    // 1-based
  int column = 1;  // 1-based, in bytes
};

TextPosition position_of_offset(std::string_view text, std::size_t offset);

// The position of the value at `pointer` (RFC 6901) in well-formed JSON text;
// for a pointer that reaches no value, the position of its deepest existing
// parent.
TextPosition position_of_pointer(std::string_view text, std::string_view pointer);

// Calls `visit` with the path (object keys and array indexes, decoded) and
// position of every value of well-formed JSON text nested at most
// `max_depth` deep (the root is depth 0), in one scan of the text: the
// loader locates every rule at once, for traces.
void visit_positions(
    std::string_view text, std::size_t max_depth,
    const std::function<void(const std::vector<std::string>& path, TextPosition position)>& visit);

// The JSON pointer form of one object key ("~" and "/" escaped).
std::string json_pointer_token(std::string_view key);

// JSON parsers keep one of two equal keys silently; a firewall rule that
// loses a key that way would do something else than written, so it is refused.
struct DuplicateKey {
  std::string pointer;  // of the second occurrence
  std::size_t offset;   // where the second occurrence starts
};
std::optional<DuplicateKey> find_duplicate_key(std::string_view text);

// The offset of the '[' or '{' that opens the `depth`th level of nesting
// (1 for the outermost), in text that is valid JSON up to there; the size of
// the text if it nests less.
std::size_t offset_of_depth(std::string_view text, std::size_t depth);

}  // namespace verdictd
