// A whole decimal number that is all of `text` ("600"), as ipset's element
// and create-line options are written; nullopt for anything else (empty,
// a sign, trailing characters, out of T's range).
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace verdictd {

template <class T>
std::optional<T> parse_decimal(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace verdictd
