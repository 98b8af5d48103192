// -m string: a pattern anywhere in the packet from its network header, as
// xt_string's string_mt asks skb_find_text: the first occurrence at or after
// offset `from` counts only when it ends by offset `to` (skb_find_text's
// check since Linux 6.7), and the packet's end bounds the search. The Boyer-
// Moore and Knuth-Morris-Pratt searches (--algo bm|kmp) find the same
// occurrences in the linear copy NFQUEUE hands over; --icase compares both
// sides through the kernel's toupper, which also folds Latin-1 letters.
#include <algorithm>
#include <array>
#include <functional>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

// XT_STRING_MAX_PATTERN_SIZE.
constexpr std::size_t kMaxPattern = 128;
constexpr std::uint64_t kMaxOffset = 0xffff;

// The kernel's toupper (lib/ctype.c): lower-case ASCII and Latin-1 letters
// (0xdf-0xf6, 0xf8-0xff) lose 0x20.
constexpr std::uint8_t kernel_toupper(std::uint8_t c) {
  const bool lower = (c >= 'a' && c <= 'z') || (c >= 0xdf && c != 0xf7);
  return lower ? static_cast<std::uint8_t>(c - 0x20) : c;
}

bool printable(std::string_view pattern) {
  return std::all_of(pattern.begin(), pattern.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// As libxt_string prints a pattern: quoted text when every byte is printable
// ASCII (with " and \ escaped), else "|hex|".
std::string pattern_text(std::string_view pattern) {
  std::string text = "\"";
  if (printable(pattern)) {
    for (const char c : pattern) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
  } else {
    static constexpr std::string_view kDigits = "0123456789abcdef";
    text += '|';
    for (const char c : pattern) {
      const auto byte = static_cast<std::uint8_t>(c);
      text += kDigits[byte >> 4U];
      text += kDigits[byte & 0xfU];
    }
    text += '|';
  }
  return text + "\"";
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// --hex-string's syntax: text with hexadecimal bytes between pipes
// ("GET|20|/", "|0d 0a|"); outside them a backslash takes the next character
// as it is (a literal pipe is "\|"). Errors name the character's position.
std::string parse_hex_string(const Json& v) {
  const std::string& text = expect_string(v, "a pattern with hexadecimal bytes between pipes");
  std::string bytes;
  bool in_hex = false;
  std::size_t opened_at = 0;
  auto fail = [&](std::size_t at, const std::string& why) {
    throw FieldError("at character " + std::to_string(at + 1) + " of " + v.dump() + ": " + why);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_hex) {
      if (c == '|') {
        in_hex = true;
        opened_at = i;
      } else if (c == '\\') {
        if (i + 1 == text.size()) fail(i, "a backslash needs a character after it");
        bytes += text[++i];
      } else {
        bytes += c;
      }
      continue;
    }
    if (c == '|') {
      in_hex = false;
    } else if (c != ' ') {
      if (i + 1 == text.size() || hex_digit(c) < 0 || hex_digit(text[i + 1]) < 0) {
        fail(i, "expected two hexadecimal digits between pipes");
      }
      bytes += static_cast<char>(hex_digit(c) * 16 + hex_digit(text[i + 1]));
      ++i;
    }
  }
  if (in_hex) fail(opened_at, "this pipe is never closed");
  return bytes;
}

// A pattern of 1 to 128 bytes: the text's own bytes (--string) or the
// --hex-string syntax. Saved as libxt_string prints it, whichever was written.
class PatternType final : public ValueType {
 public:
  explicit PatternType(bool hex) : hex_(hex) {}
  [[nodiscard]] std::string_view name() const override { return hex_ ? "hex pattern" : "pattern"; }
  [[nodiscard]] std::string syntax() const override {
    return hex_ ? R"(text with hexadecimal bytes between pipes ("GET|20|/"), 1-128 bytes)"
                : "a string of 1-128 bytes";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    std::string pattern = hex_ ? parse_hex_string(v) : expect_string(v, syntax());
    if (pattern.empty() || pattern.size() > kMaxPattern) {
      throw_expected("a pattern of 1-128 bytes", v);
    }
    return pattern;
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return pattern_text(std::get<std::string>(v));
  }
  [[nodiscard]] Json example() const override { return hex_ ? "|0d0a|" : "GET /admin"; }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}, {"minLength", 1}}; }

 private:
  bool hex_;
};

const PatternType kTextPattern(false);
const PatternType kHexPattern(true);
constexpr std::array<std::string_view, 2> kAlgorithms = {"bm", "kmp"};
const ChoiceType kAlgorithmType("search algorithm", kAlgorithms);

struct StringSearch {
  std::string pattern;  // folded by kernel_toupper when icase
  std::uint64_t algorithm = 0;
  std::uint16_t from = 0;
  std::uint16_t to = kMaxOffset;
  bool icase = false;
  bool negated = false;
};

class StringMatch final : public Match {
 public:
  explicit StringMatch(StringSearch search) : search_(std::move(search)) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return found(packet.bytes) != search_.negated;
  }

  // `STRING match  "GET /admin" ALGO name bm FROM 10 TO 100 ICASE`.
  void list(ListRow& row) const override {
    std::string text = std::string("STRING match ") + (search_.negated ? "!" : "") + " " +
                       pattern_text(written_pattern()) + " ALGO name " +
                       std::string(kAlgorithms[search_.algorithm]);
    text += listed_offsets(" FROM ", " TO ");
    if (search_.icase) text += " ICASE";
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    const std::string& pattern = written_pattern();
    line.matches += std::string(" -m string") + (search_.negated ? " !" : "") +
                    (printable(pattern) ? " --string " : " --hex-string ") + pattern_text(pattern) +
                    " --algo " + std::string(kAlgorithms[search_.algorithm]) +
                    listed_offsets(" --from ", " --to ") + (search_.icase ? " --icase" : "");
  }

 private:
  // The occurrence must lie wholly in [from, min(to, length)).
  [[nodiscard]] bool found(std::span<const std::uint8_t> bytes) const {
    const std::size_t end = std::min<std::size_t>(search_.to, bytes.size());
    if (search_.from >= end) return false;
    const auto first = bytes.begin() + search_.from;
    const auto last = bytes.begin() + static_cast<std::ptrdiff_t>(end);
    const auto* pattern = reinterpret_cast<const std::uint8_t*>(search_.pattern.data());
    const std::span<const std::uint8_t> wanted(pattern, search_.pattern.size());
    if (!search_.icase) return std::search(first, last, wanted.begin(), wanted.end()) != last;
    return std::search(first, last, wanted.begin(), wanted.end(),
                       [](std::uint8_t text, std::uint8_t folded) {
                         return kernel_toupper(text) == folded;
                       }) != last;
  }

  // The pattern as the rule wrote it (folding is for the search only).
  [[nodiscard]] const std::string& written_pattern() const {
    return options().get<std::string>(options().has("string") ? "string" : "hex_string");
  }

  [[nodiscard]] std::string listed_offsets(std::string_view from, std::string_view to) const {
    std::string text;
    if (search_.from != 0) text += std::string(from) + std::to_string(search_.from);
    if (search_.to != kMaxOffset) text += std::string(to) + std::to_string(search_.to);
    return text;
  }

  StringSearch search_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const bool text = options.has("string");
  const std::string_view key = text ? "string" : "hex_string";
  StringSearch search;
  search.pattern = options.get<std::string>(key);
  search.negated = options.negated(key);
  search.algorithm = options.get<std::uint64_t>("algo");
  search.from = static_cast<std::uint16_t>(options.get_or<std::uint64_t>("from", 0));
  search.to = static_cast<std::uint16_t>(options.get_or<std::uint64_t>("to", kMaxOffset));
  search.icase = options.has("icase");
  if (search.from > search.to) {
    throw FieldError("\"from\" " + std::to_string(search.from) + " is after \"to\" " +
                     std::to_string(search.to));
  }
  if (search.icase) {
    std::transform(
        search.pattern.begin(), search.pattern.end(), search.pattern.begin(),
        [](char c) { return static_cast<char>(kernel_toupper(static_cast<std::uint8_t>(c))); });
  }
  return std::make_unique<StringMatch>(std::move(search));
}

const std::array<OptionSpec, 6> kOptions = {
    {{.key = "string",
      .flag = "--string",
      .type = &kTextPattern,
      .negatable = true,
      .doc = "the packet holds these bytes (searched from the network header on)"},
     {.key = "hex_string",
      .flag = "--hex-string",
      .type = &kHexPattern,
      .negatable = true,
      .doc = "the packet holds these bytes, written as text with hexadecimal bytes between "
             "pipes (\"GET|20|/\"; \\| is a literal pipe)"},
     {.key = "algo",
      .flag = "--algo",
      .type = &kAlgorithmType,
      .mandatory = true,
      .doc = "the kernel's search algorithm, \"bm\" (Boyer-Moore) or \"kmp\" "
             "(Knuth-Morris-Pratt); both find the same occurrences"},
     {.key = "from",
      .flag = "--from",
      .type = &value_types::number(kMaxOffset),
      .doc = "the search starts at this offset from the network header (default 0)"},
     {.key = "to",
      .flag = "--to",
      .type = &value_types::number(kMaxOffset),
      .doc = "an occurrence must end by this offset from the network header (default 65535)"},
     {.key = "icase",
      .flag = "--icase",
      .type = &value_types::flag(),
      .doc = "letters match in either case (ASCII and Latin-1, as the kernel's toupper)"}}};

const std::array<Constraint, 1> kConstraints = {
    {{.kind = Constraint::Kind::kExactlyOne, .keys = "string hex_string"}}};

const MatchRegistrar kRegistrar({.name = "string",
                                 .summary = "a pattern in the packet's bytes",
                                 .options = kOptions,
                                 .constraints = kConstraints,
                                 .build = build});

}  // namespace

}  // namespace verdictd
