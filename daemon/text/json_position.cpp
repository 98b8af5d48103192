#include "text/json_position.hpp"

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace verdictd {

TextPosition position_of_offset(std::string_view text, std::size_t offset) {
  TextPosition pos;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

namespace {

std::vector<std::string> split_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < pointer.size() && pointer[i] == '/') {
    std::size_t end = pointer.find('/', i + 1);
    if (end == std::string_view::npos) end = pointer.size();
    std::string token;
    for (std::size_t j = i + 1; j < end; ++j) {
      if (pointer[j] == '~' && j + 1 < end) {
        token += pointer[j + 1] == '1' ? '/' : '~';
        ++j;
      } else {
        token += pointer[j];
      }
    }
    tokens.push_back(std::move(token));
    i = end;
  }
  return tokens;
}

// A forward-only scanner over text already known to be valid JSON. It
// follows nesting with a stack of its own, never by recursion, so that the
// depth of the text never decides how much of the thread's stack it takes.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::size_t find(const std::vector<std::string>& tokens) {
    skip_space();
    for (const std::string& token : tokens) {
      const std::size_t here = pos_;
      if (!enter(token)) return here;
      skip_space();
    }
    return pos_;
  }

  // Visits the value at pos_ and, while `path` is shorter than max_depth,
  // the members or elements inside it; the recursion is bounded by max_depth.
  void visit(std::size_t max_depth, std::vector<std::string>& path,
             const std::function<void(std::size_t offset)>& at) {
    skip_space();
    at(pos_);
    const char c = peek();
    if (path.size() >= max_depth || (c != '{' && c != '[')) {
      skip_value();
      return;
    }
    ++pos_;
    for (std::size_t index = 0;; ++index) {
      skip_space();
      if (peek() == '}' || peek() == ']' || pos_ >= text_.size()) break;
      if (c == '{') {
        path.push_back(read_string());
        skip_space();
        ++pos_;  // ':'
      } else {
        path.push_back(std::to_string(index));
      }
      visit(max_depth, path, at);
      path.pop_back();
      skip_space();
      if (peek() != ',') break;
      ++pos_;
    }
    ++pos_;  // the closing bracket
  }

  std::optional<DuplicateKey> find_duplicate() {
    std::vector<Open> open;
    skip_space();
    while (true) {
      // At the start of a value.
      const char c = peek();
      if (c == '{' || c == '[') {
        ++pos_;
        skip_space();
        if (peek() != '}' && peek() != ']') {
          open.emplace_back().object = c == '{';
          if (c == '{') {
            if (auto found = read_key(open)) return found;
          }
          continue;
        }
        ++pos_;  // the empty object's or array's closing bracket
      } else {
        skip_value();
      }
      // After a value: the brackets it closes, then a comma or the end.
      while (true) {
        if (open.empty()) return std::nullopt;
        skip_space();
        if (peek() == ',') break;
        ++pos_;  // '}' or ']'
        open.pop_back();
      }
      ++pos_;  // ','
      skip_space();
      if (open.back().object) {
        if (auto found = read_key(open)) return found;
      } else {
        ++open.back().index;
      }
    }
  }

 private:
  // An object or array the duplicate scan is in: the keys seen so far, and
  // the member or element being scanned.
  struct Open {
    bool object = false;
    std::unordered_set<std::string> keys;
    std::string key;
    std::size_t index = 0;
  };

  // Reads the key of the member at pos_ in the innermost open object, and the
  // colon after it; a key the object already has is the duplicate.
  std::optional<DuplicateKey> read_key(std::vector<Open>& open) {
    const std::size_t key_at = pos_;
    std::string key = read_string();
    if (open.back().keys.contains(key)) {
      std::string pointer;
      for (std::size_t i = 0; i + 1 < open.size(); ++i) {
        pointer += "/" + (open[i].object ? json_pointer_token(open[i].key)
                                         : std::to_string(open[i].index));
      }
      return DuplicateKey{pointer + "/" + json_pointer_token(key), key_at};
    }
    open.back().keys.insert(key);
    open.back().key = std::move(key);
    skip_space();
    ++pos_;  // ':'
    skip_space();
    return std::nullopt;
  }

  // Moves to the member or element `token` of the value at pos_.
  bool enter(const std::string& token) {
    if (peek() == '{') {
      ++pos_;
      while (true) {
        skip_space();
        if (peek() != '"') return false;
        const std::string key = read_string();
        skip_space();
        ++pos_;  // ':'
        skip_space();
        if (key == token) return true;
        skip_value();
        skip_space();
        if (peek() != ',') return false;
        ++pos_;
      }
    }
    if (peek() == '[') {
      std::size_t index = 0;
      try {
        index = std::stoul(token);
      } catch (const std::exception&) {
        return false;
      }
      ++pos_;
      for (std::size_t i = 0;; ++i) {
        skip_space();
        if (peek() == ']') return false;
        if (i == index) return true;
        skip_value();
        skip_space();
        if (peek() != ',') return false;
        ++pos_;
      }
    }
    return false;
  }

  void skip_value() {
    const char c = peek();
    if (c == '"') {
      read_string();
    } else if (c == '{' || c == '[') {
      int depth = 0;
      do {
        const char d = peek();
        if (d == '"') {
          read_string();
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') --depth;
        ++pos_;
      } while (depth > 0 && pos_ < text_.size());
    } else {
      while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' &&
             text_[pos_] != ']' && !is_space(text_[pos_])) {
        ++pos_;
      }
    }
  }

  // The string at pos_, its escapes decoded as the parser decodes them, so
  // that keys compare as the parser compares them ("\u0061" is "a").
  std::string read_string() {
    std::string out;
    ++pos_;  // opening quote
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] != '\\' || pos_ + 1 >= text_.size()) {
        out += text_[pos_++];
        continue;
      }
      const char e = text_[++pos_];
      ++pos_;
      switch (e) {
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          append_utf8(out, read_code_point());
          break;
        default:
          out += e;  // '"', '\\', '/'
      }
    }
    ++pos_;  // closing quote
    return out;
  }

  // The code point of "XXXX" at pos_ (after "\\u"), or of a surrogate pair
  // "XXXX\\uYYYY".
  std::uint32_t read_code_point() {
    const std::uint32_t unit = read_hex4();
    if (unit < 0xd800 || unit > 0xdbff || text_.substr(pos_, 2) != "\\u") return unit;
    pos_ += 2;
    return 0x10000 + ((unit - 0xd800) << 10) + (read_hex4() - 0xdc00);
  }
  std::uint32_t read_hex4() {
    std::uint32_t value = 0;
    for (int i = 0; i < 4 && pos_ < text_.size(); ++i, ++pos_) {
      const char h = text_[pos_];
      const auto digit = h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10;
      value = value * 16 + static_cast<std::uint32_t>(digit);
    }
    return value;
  }
  static void append_utf8(std::string& out, std::uint32_t c) {
    const auto byte = [&out](std::uint32_t b) { out += static_cast<char>(b); };
    if (c < 0x80) {
      byte(c);
    } else if (c < 0x800) {
      byte(0xc0 | (c >> 6));
      byte(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      byte(0xe0 | (c >> 12));
      byte(0x80 | ((c >> 6) & 0x3f));
      byte(0x80 | (c & 0x3f));
    } else {
      byte(0xf0 | (c >> 18));
      byte(0x80 | ((c >> 12) & 0x3f));
      byte(0x80 | ((c >> 6) & 0x3f));
      byte(0x80 | (c & 0x3f));
    }
  }

  static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }
  [[nodiscard]] char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string json_pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<DuplicateKey> find_duplicate_key(std::string_view text) {
  return Scanner(text).find_duplicate();
}

std::size_t offset_of_depth(std::string_view text, std::size_t depth) {
  std::size_t open = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++open == depth) return i;
    } else if (c == ']' || c == '}') {
      --open;
    }
  }
  return text.size();
}

void visit_positions(
    std::string_view text, std::size_t max_depth,
    const std::function<void(const std::vector<std::string>& path, TextPosition position)>& visit) {
  std::vector<std::string> path;
  // Offsets ascend: each position is counted on from the one before.
  std::size_t counted = 0;
  TextPosition pos;
  Scanner(text).visit(max_depth, path, [&](std::size_t offset) {
    for (; counted < offset; ++counted) {
      if (text[counted] == '\n') {
        ++pos.line;
        pos.column = 1;
      } else {
        ++pos.column;
      }
    }
    visit(path, pos);
  });
}

TextPosition position_of_pointer(std::string_view text, std::string_view pointer) {
  Scanner scanner(text);
  return position_of_offset(text, scanner.find(split_pointer(pointer)));
}

}  // namespace verdictd
