// -m hbh and -m dst: the IPv6 Hop-by-Hop and Destination options headers, as
// ip6t_hbh's hbh_mt6 (one module, both names): the header found as
// ipv6_find_hdr finds it, its length in bytes, and a list of options that must
// be the header's first options, in order: each listed type equal to the
// packet's, and its length byte too unless the rule gave none. Pad1 (type 0)
// is one byte without a length byte. A header whose first two bytes are cut
// off drops the packet; a header shorter than its length field, or options
// running out before the list ends, do not match.
#include <array>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "packet/ipv6_extension.hpp"
#include "packet/ipv6_find_header.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kMaxOptions = 16;    // IP6T_OPTS_OPTSNR
constexpr std::uint8_t kAnyLength = 0xff;  // no ":LEN" given
constexpr std::uint8_t kPad1 = 0;

struct ListedOption {
  std::uint8_t type = 0;
  std::uint8_t length = kAnyLength;
};

// A number as libip6t_hbh's parse_opts_num reads it (strtoul base 0: "0x10"
// too), kept to its low 8 bits as libip6t_hbh keeps it.
std::uint8_t option_number(const std::string& text, const std::string& item) {
  char* end = nullptr;
  const unsigned long n = std::strtoul(text.c_str(), &end, 0);  // NOLINT(google-runtime-int)
  if (text.empty() || *end != '\0' || text.front() == '-') {
    throw FieldError("in option \"" + item + "\": expected a number, got \"" + text + "\"");
  }
  return static_cast<std::uint8_t>(n & 0xffU);
}

// "1:4,0,5": up to 16 options TYPE[:LEN]; the 16th without a length, Pad1
// without one, as libip6t_hbh refuses them.
std::vector<ListedOption> parse_options(const std::string& text) {
  std::vector<ListedOption> options;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma - start);
    if (options.size() == kMaxOptions) {
      throw FieldError("in \"" + text + "\": more than 16 options");
    }
    const std::size_t colon = item.find(':');
    ListedOption option{.type = option_number(item.substr(0, colon), item)};
    if (colon != std::string::npos) {
      if (options.size() == kMaxOptions - 1) {
        throw FieldError("in \"" + text + "\": the 16th option cannot have a length");
      }
      if (option.type == kPad1) {
        throw FieldError("in \"" + text + "\": Pad1 (type 0) has no length");
      }
      option.length = option_number(item.substr(colon + 1), item);
    }
    options.push_back(option);
    if (comma == std::string::npos) return options;
    start = comma + 1;
  }
}

// As libip6t_hbh's print_options: "1:4,0,5" (a length of 255 is any length).
std::string options_text(const std::vector<ListedOption>& options) {
  std::string text;
  for (const ListedOption& option : options) {
    if (!text.empty()) text += ',';
    text += std::to_string(option.type);
    if (option.length != kAnyLength) text += ":" + std::to_string(option.length);
  }
  return text;
}

// Kept as the canonical text, parsed again to build.
class OptionListType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "IPv6 option list"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(up to 16 option types, each with an optional length, "1:4,0,5")";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    return options_text(parse_options(expect_string(v, syntax())));
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json example() const override { return "1:4,0,5"; }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"pattern", "^[0-9a-fA-FxX:,]+$"}};
  }
};

const OptionListType kOptionListType;

struct OptionsTest {
  std::optional<std::uint32_t> length;  // the header's length in bytes
  bool length_negated = false;
  std::optional<std::vector<ListedOption>> options;
};

class OptionsHeaderMatch final : public Match {
 public:
  OptionsHeaderMatch(std::string_view name, std::uint8_t header, OptionsTest test)
      : name_(name), header_(header), test_(std::move(test)) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    const std::span<const std::uint8_t> b =
        packet.bytes.first(std::min<std::size_t>(packet.bytes.size(), packet.length));
    const Ipv6HeaderSearch found = find_ipv6_header(b, header_);
    if (found.result == Ipv6HeaderSearch::Result::kAbsent) return false;
    if (found.result == Ipv6HeaderSearch::Result::kMalformed || found.offset + 2 > b.size()) {
      state.hotdrop = true;
      return false;
    }
    const std::size_t at = found.offset;
    const std::size_t length = (static_cast<std::size_t>(b[at + 1]) + 1) * 8;  // ipv6_optlen
    if (b.size() - at < length) return false;
    if (test_.length && (*test_.length == length) == test_.length_negated) return false;
    return !test_.options || options_lead(b.subspan(at + 2, length - 2));
  }

  [[nodiscard]] std::optional<Family> family() const override { return Family::kIPv6; }

  // "hbh length:!8 opts 1:4,0", "dst".
  void list(ListRow& row) const override {
    std::string text(name_);
    if (test_.length) {
      text += std::string(" length:") + (test_.length_negated ? "!" : "") +
              std::to_string(*test_.length);
    }
    if (test_.options) text += " opts " + options_text(*test_.options);
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    line.matches += " -m " + std::string(name_);
    if (test_.length) {
      line.matches += std::string(test_.length_negated ? " !" : "") + " --" + std::string(name_) +
                      "-len " + std::to_string(*test_.length);
    }
    if (test_.options) {
      line.matches += " --" + std::string(name_) + "-opts " + options_text(*test_.options);
    }
  }

 private:
  // The listed options are the header's first, in order, as hbh_mt6 walks
  // them: the last listed one may run past the header's end.
  bool options_lead(std::span<const std::uint8_t> options) const {
    std::size_t at = 0;
    for (std::size_t i = 0; i < test_.options->size(); ++i) {
      const ListedOption& want = (*test_.options)[i];
      if (at >= options.size() || options[at] != want.type) return false;
      std::size_t size = 1;
      if (want.type != kPad1) {
        if (at + 1 >= options.size()) return false;
        if (want.length != kAnyLength && options[at + 1] != want.length) return false;
        size = std::size_t{options[at + 1]} + 2;
      }
      if (at + size > options.size() && i + 1 < test_.options->size()) return false;
      at += size;
    }
    return true;
  }

  std::string_view name_;
  std::uint8_t header_;
  OptionsTest test_;
};

OptionsTest options_test(const OptionValues& options, const std::string& prefix) {
  OptionsTest test;
  if (options.has(prefix + "_len")) {
    test.length = static_cast<std::uint32_t>(options.get<std::uint64_t>(prefix + "_len"));
    test.length_negated = options.negated(prefix + "_len");
  }
  if (options.has(prefix + "_opts")) {
    test.options = parse_options(options.get<std::string>(prefix + "_opts"));
  }
  return test;
}

std::unique_ptr<Match> build_hbh(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<OptionsHeaderMatch>("hbh", ipproto::kHopByHop,
                                              options_test(options, "hbh"));
}

std::unique_ptr<Match> build_dst(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<OptionsHeaderMatch>("dst", ipproto::kDestinationOptions,
                                              options_test(options, "dst"));
}

const std::array<OptionSpec, 2> kHbhOptions = {
    {{.key = "hbh_len",
      .flag = "--hbh-len",
      .type = &value_types::number(0xffffffff),
      .negatable = true,
      .doc = "the Hop-by-Hop options header's length in bytes ((length field + 1) * 8)"},
     {.key = "hbh_opts",
      .flag = "--hbh-opts",
      .type = &kOptionListType,
      .doc = "the header's first options, in this order: each type, and its length byte when "
             "\"TYPE:LEN\" gives one (Pad1, type 0, is one byte without a length)"}}};

const std::array<OptionSpec, 2> kDstOptions = {
    {{.key = "dst_len",
      .flag = "--dst-len",
      .type = &value_types::number(0xffffffff),
      .negatable = true,
      .doc = "the Destination options header's length in bytes ((length field + 1) * 8)"},
     {.key = "dst_opts",
      .flag = "--dst-opts",
      .type = &kOptionListType,
      .doc = "the header's first options, in this order: each type, and its length byte when "
             "\"TYPE:LEN\" gives one (Pad1, type 0, is one byte without a length)"}}};

const MatchRegistrar kHbh({.name = "hbh",
                           .summary = "the IPv6 Hop-by-Hop options header, its length and options",
                           .options = kHbhOptions,
                           .build = build_hbh});
const MatchRegistrar kDst({.name = "dst",
                           .summary = "the IPv6 Destination options header, its length and options",
                           .options = kDstOptions,
                           .build = build_dst});

}  // namespace

}  // namespace verdictd
