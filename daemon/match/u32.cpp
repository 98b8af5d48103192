// -m u32: tests of 32-bit words read anywhere in the packet (from the
// network header), as xt_u32's u32_match_it: each test reads the word at its
// first number, then applies "&" (mask), "<<" and ">>" (shift) and "@" (move
// forward by the value and read the word at the next number there), and
// passes when the result is in one of its ranges. All tests must pass; a
// word past the packet's end fails the rule (negated or not: the negation
// applies to the whole). The expression is kept parsed, and printed as
// libxt_u32 prints it ("0x0>>0x16&0x3c@0x0=0x41424344").
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

// XT_U32_MAXSIZE + 1: tests per rule, numbers per location, ranges per test.
constexpr std::size_t kMaxItems = 11;
constexpr std::uint32_t kMaxShift = 31;

enum class Operator : std::uint8_t { kAnd, kLeftShift, kRightShift, kAt };

struct Step {
  Operator op = Operator::kAnd;
  std::uint32_t number = 0;
};

struct Range {
  std::uint32_t low = 0;
  std::uint32_t high = 0;
};

struct U32Test {
  std::uint32_t start = 0;
  std::vector<Step> steps;
  std::vector<Range> ranges;
};

std::string hex_text(std::uint32_t n) { return hex(n); }

// The expression's text as libxt_u32's u32_dump prints it, without quotes.
std::string expression_text(const std::vector<U32Test>& tests) {
  static constexpr std::array<std::string_view, 4> kOperators = {"&", "<<", ">>", "@"};
  std::string text;
  for (const U32Test& test : tests) {
    if (!text.empty()) text += "&&";
    text += hex_text(test.start);
    for (const Step& step : test.steps) {
      text += std::string(kOperators[static_cast<std::size_t>(step.op)]) + hex_text(step.number);
    }
    text += "=";
    for (std::size_t i = 0; i < test.ranges.size(); ++i) {
      if (i > 0) text += ",";
      const Range& r = test.ranges[i];
      text += hex_text(r.low) + (r.low == r.high ? "" : ":" + hex_text(r.high));
    }
  }
  return text;
}

// Reads the expression; errors name the character where it went wrong.
class ExpressionParser {
 public:
  explicit ExpressionParser(std::string_view text) : text_(text) {}

  std::vector<U32Test> parse() {
    std::vector<U32Test> tests;
    while (true) {
      if (tests.size() == kMaxItems) fail("more than 11 tests joined by &&");
      tests.push_back(test());
      skip_spaces();
      if (at_ == text_.size()) return tests;
      if (!take("&&")) fail(R"(expected "&&" or the end)");
    }
  }

 private:
  U32Test test() {
    U32Test test;
    test.start = number("a location");
    while (true) {
      skip_spaces();
      if (take("=")) break;
      Operator op{};
      if (take("&&")) {
        fail(R"(expected "=" and the values before "&&")");
      } else if (take("&")) {
        op = Operator::kAnd;
      } else if (take("<<")) {
        op = Operator::kLeftShift;
      } else if (take(">>")) {
        op = Operator::kRightShift;
      } else if (take("@")) {
        op = Operator::kAt;
      } else {
        fail(R"(expected "&", "<<", ">>", "@" or "=")");
      }
      if (test.steps.size() + 1 == kMaxItems) fail("more than 11 numbers in one location");
      const std::size_t number_at = at_;
      const std::uint32_t n = number("a number");
      if ((op == Operator::kLeftShift || op == Operator::kRightShift) && n > kMaxShift) {
        fail_at(number_at, "a shift of more than 31 bits");
      }
      test.steps.push_back({op, n});
    }
    while (true) {
      if (test.ranges.size() == kMaxItems) fail("more than 11 values in one test");
      Range range;
      range.low = number("a value");
      range.high = range.low;
      skip_spaces();
      if (take(":")) {
        const std::size_t high_at = at_;
        range.high = number("the end of a range");
        if (range.high < range.low) fail_at(high_at, "a range that ends below its start");
      }
      test.ranges.push_back(range);
      skip_spaces();
      if (!take(",")) return test;
    }
  }

  // A 32-bit number, decimal, hexadecimal (0x) or octal (0), as strtoul base 0.
  std::uint32_t number(std::string_view what) {
    skip_spaces();
    const std::size_t start = at_;
    std::uint64_t base = 10;
    if (take("0x") || take("0X")) {
      base = 16;
    } else if (at_ < text_.size() && text_[at_] == '0') {
      base = 8;
    }
    std::uint64_t value = 0;
    std::size_t digits = 0;
    while (at_ < text_.size()) {
      const char c = text_[at_];
      const int digit = std::isdigit(static_cast<unsigned char>(c)) != 0 ? c - '0'
                        : (c >= 'a' && c <= 'f')                         ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F')                         ? c - 'A' + 10
                                                                         : -1;
      if (digit < 0 || static_cast<std::uint64_t>(digit) >= base) break;
      value = value * base + static_cast<std::uint64_t>(digit);
      if (value > 0xffffffffU) fail_at(start, "a number above 0xffffffff");
      ++at_;
      ++digits;
    }
    if (digits == 0 && base != 8) fail_at(start, "expected " + std::string(what));
    return static_cast<std::uint32_t>(value);
  }

  void skip_spaces() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
  }
  bool take(std::string_view token) {
    if (text_.substr(at_, token.size()) != token) return false;
    at_ += token.size();
    return true;
  }
  [[noreturn]] void fail(const std::string& why) const { fail_at(at_, why); }
  [[noreturn]] void fail_at(std::size_t at, const std::string& why) const {
    throw FieldError("at character " + std::to_string(at + 1) + " of \"" + std::string(text_) +
                     "\": " + why);
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

// The expression, checked and kept as libxt_u32 prints it (which it parses back to the same).
class ExpressionType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "u32 expression"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(tests joined by "&&", each "LOCATION=RANGES": a byte offset then "&MASK", "<<N", )"
           R"(">>N" or "@OFFSET" steps; ranges "V" or "LO:HI" joined by ",")";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    return expression_text(ExpressionParser(expect_string(v, syntax())).parse());
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return "\"" + std::get<std::string>(v) + "\"";
  }
  [[nodiscard]] Json example() const override { return "6 & 0xFF = 17"; }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}, {"minLength", 1}}; }
};

const ExpressionType kExpressionType;

std::uint32_t word_at(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) << 24U | static_cast<std::uint32_t>(b[at + 1]) << 16U |
         static_cast<std::uint32_t>(b[at + 2]) << 8U | b[at + 3];
}

class U32Match final : public Match {
 public:
  U32Match(std::vector<U32Test> tests, bool negated)
      : tests_(std::move(tests)), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return all_pass(packet.bytes.first(
               std::min<std::size_t>(packet.bytes.size(), packet.length))) != negated_;
  }

  // `u32 "0x6&0xff=0x11"`, `u32 ! "..."`.
  void list(ListRow& row) const override {
    row.add_extra(std::string("u32 ") + (negated_ ? "! " : "") + "\"" + expression_text(tests_) +
                  "\"");
  }

 private:
  [[nodiscard]] bool all_pass(std::span<const std::uint8_t> b) const {
    const std::uint64_t length = b.size();
    for (const U32Test& test : tests_) {
      if (length < 4 || test.start > length - 4) return false;
      std::uint32_t value = word_at(b, test.start);
      std::uint64_t base = 0;  // "at", moved by each "@"
      for (const Step& step : test.steps) {
        switch (step.op) {
          case Operator::kAnd:
            value &= step.number;
            break;
          case Operator::kLeftShift:
            value <<= step.number;
            break;
          case Operator::kRightShift:
            value >>= step.number;
            break;
          case Operator::kAt:
            base += value;
            if (base + 4 > length || step.number > length - base - 4) return false;
            value = word_at(b, static_cast<std::size_t>(base + step.number));
            break;
        }
      }
      if (std::none_of(test.ranges.begin(), test.ranges.end(),
                       [value](const Range& r) { return value >= r.low && value <= r.high; })) {
        return false;
      }
    }
    return true;
  }

  std::vector<U32Test> tests_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<U32Match>(ExpressionParser(options.get<std::string>("u32")).parse(),
                                    options.negated("u32"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "u32",
      .flag = "--u32",
      .type = &kExpressionType,
      .negatable = true,
      .doc = "tests of 32-bit words of the packet, counted from the network header: "
             "\"0>>22&0x3C@12>>26&0x3C@0=0x41424344\" (see iptables-extensions(8)); at most 11 "
             "tests, 11 numbers a location and 11 ranges a test"}}};

const MatchRegistrar kRegistrar({.name = "u32",
                                 .summary = "tests of 32-bit words anywhere in the packet",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
