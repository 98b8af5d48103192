#include "ruleset/json_position.hpp"

#include <set>
#include <string>
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

// A forward-only scanner over text already known to be valid JSON.
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

  std::optional<DuplicateKey> duplicate_in_value(const std::string& pointer) {
    skip_space();
    if (peek() == '{') {
      ++pos_;
      std::set<std::string> seen;
      while (true) {
        skip_space();
        if (peek() != '"') break;
        const std::size_t key_at = pos_;
        const std::string key = read_string();
        const std::string member = pointer + "/" + json_pointer_token(key);
        if (!seen.insert(key).second) return DuplicateKey{member, key_at};
        skip_space();
        ++pos_;  // ':'
        if (auto found = duplicate_in_value(member)) return found;
        skip_space();
        if (peek() != ',') break;
        ++pos_;
      }
    } else if (peek() == '[') {
      ++pos_;
      for (std::size_t i = 0;; ++i) {
        skip_space();
        if (peek() == ']') break;
        if (auto found = duplicate_in_value(pointer + "/" + std::to_string(i))) return found;
        skip_space();
        if (peek() != ',') break;
        ++pos_;
      }
    } else {
      skip_value();
      return std::nullopt;
    }
    ++pos_;  // closing bracket
    return std::nullopt;
  }

 private:
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

  std::string read_string() {
    std::string out;
    ++pos_;  // opening quote
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) {
        ++pos_;
        const char e = text_[pos_];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;  // keys with other escapes are rare
      } else {
        out += text_[pos_];
      }
      ++pos_;
    }
    ++pos_;  // closing quote
    return out;
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
  return Scanner(text).duplicate_in_value("");
}

TextPosition position_of_pointer(std::string_view text, std::string_view pointer) {
  Scanner scanner(text);
  return position_of_offset(text, scanner.find(split_pointer(pointer)));
}

}  // namespace verdictd
