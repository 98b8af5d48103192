#include "iptables/arguments.hpp"

#include <cctype>

namespace verdictd {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class WordCollector {
 public:
  void add(char c, std::size_t offset) {
    if (!open_) start(offset);
    current_.text += c;
  }
  // An empty quoted word ("") is a word too.
  void start(std::size_t offset) {
    if (open_) return;
    open_ = true;
    current_.column = offset + 1;
  }
  void finish() {
    if (!open_) return;
    words_.push_back(std::move(current_));
    current_ = {};
    open_ = false;
  }
  [[nodiscard]] bool open() const { return open_; }
  Arguments take() {
    finish();
    return std::move(words_);
  }

 private:
  Arguments words_;
  Argument current_;
  bool open_ = false;
};

}  // namespace

LineError::LineError(const std::string& file, std::size_t at_line, std::size_t at_column,
                     const std::string& message, int exit_status)
    : std::runtime_error(file + ":" + std::to_string(at_line) +
                         (at_column != 0 ? ":" + std::to_string(at_column) : std::string()) + ": " +
                         message),
      line(at_line),
      column(at_column),
      status(exit_status) {}

std::vector<std::string_view> input_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return lines;
}

// iptables' add_param_to_argv (iptables/xshared.c).
Arguments split_restore_line(std::string_view line) {
  WordCollector words;
  bool quoted = false;
  std::size_t quote_at = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\' && i + 1 < line.size()) {
        ++i;
        words.add(line[i], i);
      } else if (c == '"') {
        quoted = false;
      } else {
        words.add(c, i);
      }
      continue;
    }
    if (c == '"') {
      words.start(i);
      quoted = true;
      quote_at = i;
    } else if (is_blank(c)) {
      words.finish();
    } else {
      words.add(c, i);
    }
  }
  if (quoted) throw ImportError("unterminated quotes", quote_at + 1);
  return words.take();
}

Arguments split_shell_line(
    std::string_view line,
    const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  WordCollector words;
  const auto expand = [&](std::size_t& i, std::size_t word_offset) {
    // At '$': ${NAME} or $NAME.
    const std::size_t dollar = i;
    std::string name;
    if (i + 1 < line.size() && line[i + 1] == '{') {
      const std::size_t close = line.find('}', i + 2);
      if (close == std::string_view::npos) throw ImportError("unterminated ${", dollar + 1);
      name = std::string(line.substr(i + 2, close - i - 2));
      i = close;
    } else {
      std::size_t end = i + 1;
      while (end < line.size() &&
             (std::isalnum(static_cast<unsigned char>(line[end])) != 0 || line[end] == '_')) {
        ++end;
      }
      if (end == i + 1) {
        words.add('$', word_offset);
        return;
      }
      name = std::string(line.substr(i + 1, end - i - 1));
      i = end - 1;
    }
    const std::optional<std::string> value = lookup(name);
    if (!value) {
      throw ImportError("the script does not set $" + name +
                            " before this line (only plain NAME=value assignments are followed)",
                        dollar + 1);
    }
    words.start(word_offset);
    for (char v : *value) words.add(v, word_offset);
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (is_blank(c)) {
      words.finish();
    } else if (c == '#' && !words.open()) {
      break;
    } else if (c == '\'') {
      words.start(i);
      const std::size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos) throw ImportError("unterminated quotes", i + 1);
      for (std::size_t j = i + 1; j < close; ++j) words.add(line[j], i);
      i = close;
    } else if (c == '"') {
      words.start(i);
      const std::size_t open = i;
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() &&
            std::string_view("$`\"\\").find(line[i + 1]) != std::string_view::npos) {
          ++i;
          words.add(line[i], open);
        } else if (line[i] == '$') {
          expand(i, open);
        } else {
          words.add(line[i], open);
        }
      }
      if (i >= line.size()) throw ImportError("unterminated quotes", open + 1);
    } else if (c == '\\' && i + 1 < line.size()) {
      words.add(line[i + 1], i);
      ++i;
    } else if (c == '$') {
      expand(i, i);
    } else {
      words.add(c, i);
    }
  }
  return words.take();
}

}  // namespace verdictd
