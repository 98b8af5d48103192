#include "ruleset/json_document.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "ruleset/json_parse.hpp"
#include "text/json_position.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kReadChunk = 1 << 16;

// `size`: of a regular file; a pipe's is only known to be larger.
[[noreturn]] void refuse_size(const std::string& path, std::optional<std::uintmax_t> size,
                              const SizeLimit& limit) {
  throw RulesetError(path, 0, 0, "",
                     (size ? "the file is " + std::to_string(*size) + " bytes, more than"
                           : "the file has more than") +
                         " the limit of " + std::to_string(limit.bytes) + " bytes" +
                         (limit.raise_with.empty() ? "" : "; " + limit.raise_with));
}

}  // namespace

JsonDocument::JsonDocument(std::string text, std::string file)
    : text_(std::move(text)), file_(std::move(file)) {
  try {
    root_ = parse_json(text_);
  } catch (const JsonParseError& e) {
    const TextPosition pos = position_of_offset(text_, e.offset);
    throw RulesetError(file_, pos.line, pos.column, "", e.message);
  }
  if (auto duplicate = find_duplicate_key(text_)) {
    const TextPosition pos = position_of_offset(text_, duplicate->offset);
    throw RulesetError(file_, pos.line, pos.column, duplicate->pointer,
                       "duplicate key; each key may appear once in an object");
  }
}

std::string read_text_file(const std::string& path, const SizeLimit& limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RulesetError(path, 0, 0, "", std::string("cannot open: ") + std::strerror(errno));
  // A regular file's size is known before reading it; a pipe's is not, so
  // the read stops one byte past the limit.
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > limit.bytes) refuse_size(path, size, limit);
  std::string text;
  if (!error) text.reserve(size);
  std::array<char, kReadChunk> chunk{};
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > limit.bytes) refuse_size(path, std::nullopt, limit);
  }
  return text;
}

JsonDocument JsonDocument::read(const std::string& path, const SizeLimit& limit) {
  return {read_text_file(path, limit), path};
}

RulesetError JsonDocument::error_at(const std::string& pointer, const std::string& message) const {
  const TextPosition pos = position_of_pointer(text_, pointer);
  return {file_, pos.line, pos.column, pointer, message};
}

}  // namespace verdictd
