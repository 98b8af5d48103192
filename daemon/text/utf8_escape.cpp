#include "text/utf8_escape.hpp"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace verdictd {

namespace {

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0
// when its first byte does not begin one.
std::size_t sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint8_t second_low = 0x80;  // the range of the second byte depends on the first
  std::uint8_t second_high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) second_low = 0xa0;   // overlong below U+0800
    if (lead == 0xed) second_high = 0x9f;  // surrogates U+D800..U+DFFF
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) second_low = 0x90;   // overlong below U+10000
    if (lead == 0xf4) second_high = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < second_low || byte(1) > second_high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

std::string escape_invalid_utf8(std::string_view text) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string escaped;
  escaped.reserve(text.size());
  while (!text.empty()) {
    if (const std::size_t length = sequence_length(text); length > 0) {
      escaped.append(text.substr(0, length));
      text.remove_prefix(length);
      continue;
    }
    const auto value = static_cast<std::uint8_t>(text.front());
    escaped += "\\x";
    escaped += kHex[value >> 4];
    escaped += kHex[value & 0xf];
    text.remove_prefix(1);
  }
  return escaped;
}

void escape_invalid_utf8(nlohmann::ordered_json& value) {
  // An explicit stack: the depth of `value` is whatever its builder made it.
  std::vector<nlohmann::ordered_json*> pending{&value};
  while (!pending.empty()) {
    nlohmann::ordered_json& current = *pending.back();
    pending.pop_back();
    if (current.is_string()) {
      current = escape_invalid_utf8(current.get_ref<const std::string&>());
    } else if (current.is_array()) {
      for (auto& element : current) pending.push_back(&element);
    } else if (current.is_object()) {
      nlohmann::ordered_json escaped = nlohmann::ordered_json::object();
      for (auto& [key, element] : current.items()) {
        escaped[escape_invalid_utf8(key)] = std::move(element);
      }
      current = std::move(escaped);
      for (auto& [key, element] : current.items()) pending.push_back(&element);
    }
  }
}

}  // namespace verdictd
