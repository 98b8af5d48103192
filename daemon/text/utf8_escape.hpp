// Text that must go into JSON, which has to be UTF-8, when it may hold other
// bytes: a file name, or a parse error quoting a Latin-1 file or half of a
// multi-byte character. nlohmann's dump() throws on such bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace verdictd {

// `text` with each byte that is not part of a well-formed UTF-8 sequence
// (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing above
// U+10FFFF) written as the four characters \xNN, NN its value in lower-case
// hex. Well-formed text comes back unchanged.
std::string escape_invalid_utf8(std::string_view text);

// The same for every string and object key in `value`, at any depth.
void escape_invalid_utf8(nlohmann::ordered_json& value);

}  // namespace verdictd
