// -m ipv6header: which extension headers an IPv6 packet carries, as
// ip6t_ipv6header's ipv6header_mt walks them (through every header, later
// fragments included, to ESP, no-next-header or the first other protocol).
// Without --soft the set must be exactly the one given (negated: any other);
// with --soft each header given must be present (negated: absent).
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "packet/ipv6_extension.hpp"

namespace verdictd {

namespace {

// MASK_HOPOPTS ... MASK_PROTO, in the order iptables-save names them.
constexpr std::array<NamedBit, 8> kHeaders = {{{"hop-by-hop", 0x80},
                                               {"ipv6-opts", 0x40},
                                               {"ipv6-route", 0x20},
                                               {"ipv6-frag", 0x10},
                                               {"ah", 0x08},
                                               {"esp", 0x04},
                                               {"ipv6-nonxt", 0x02},
                                               {"protocol", 0x01}}};

// The other names and the numbers libxt_ipv6header takes for them.
struct HeaderAlias {
  std::string_view name;
  std::uint8_t bits;
};
constexpr std::array<HeaderAlias, 15> kAliases = {{{"hop", 0x80},
                                                   {"0", 0x80},
                                                   {"dst", 0x40},
                                                   {"60", 0x40},
                                                   {"route", 0x20},
                                                   {"43", 0x20},
                                                   {"frag", 0x10},
                                                   {"44", 0x10},
                                                   {"auth", 0x08},
                                                   {"51", 0x08},
                                                   {"50", 0x04},
                                                   {"none", 0x02},
                                                   {"59", 0x02},
                                                   {"prot", 0x01},
                                                   {"255", 0x01}}};

const NamesType kHeaderNames("extension headers", kHeaders);

// Names as the header names type takes them, after the aliases and numbers.
class HeadersType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "extension headers"; }
  [[nodiscard]] std::string syntax() const override {
    return kHeaderNames.syntax() +
           " (also hop, dst, route, frag, auth, none, prot, or their numbers 0, 60, 43, 44, 51, "
           "50, 59, 255)";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    std::uint64_t bits = 0;
    Json names = Json::array();
    const auto add = [&](const std::string& name) {
      for (const HeaderAlias& alias : kAliases) {
        if (alias.name == name) {
          bits |= alias.bits;
          return;
        }
      }
      names.push_back(name);
    };
    if (v.is_string()) {
      const std::string& text = v.get_ref<const std::string&>();
      std::size_t start = 0;
      while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        add(text.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (v.is_array() && !v.empty()) {
      for (const Json& item : v) {
        if (!item.is_string()) throw_expected(syntax(), v);
        add(item.get<std::string>());
      }
    } else {
      throw_expected(syntax(), v);
    }
    if (!names.empty()) {
      try {
        bits |= std::get<ValueMask>(kHeaderNames.parse(names)).value;
      } catch (const FieldError&) {
        throw_expected(syntax(), v);
      }
    }
    return bits;
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return kHeaderNames.text(static_cast<std::uint32_t>(std::get<std::uint64_t>(v)));
  }
  [[nodiscard]] Json example() const override { return "hop-by-hop,ipv6-frag"; }
  [[nodiscard]] Json schema() const override { return kHeaderNames.schema(); }
  [[nodiscard]] bool takes_list() const override { return true; }
};

const HeadersType kHeadersType;

// The headers present, as ipv6header_mt collects them; nullopt when the
// packet has too few bytes for a header it announces (no match).
std::optional<std::uint8_t> headers_present(const PacketView& packet) {
  const std::span<const std::uint8_t> b =
      packet.bytes.first(std::min<std::size_t>(packet.bytes.size(), packet.length));
  if (b.size() < kIpv6Header) return std::nullopt;
  std::uint8_t next = b[6];
  std::size_t at = kIpv6Header;
  std::uint8_t present = 0;
  while (next == ipproto::kHopByHop || next == ipproto::kRouting || next == ipproto::kFragment ||
         next == ipproto::kEsp || next == ipproto::kAh || next == ipproto::kNoNextHeader ||
         next == ipproto::kDestinationOptions) {
    if (next == ipproto::kNoNextHeader) {
      present |= 0x02;
      break;
    }
    if (at + 2 > b.size()) return std::nullopt;
    if (next == ipproto::kEsp) {
      present |= 0x04;
      break;
    }
    std::size_t length = 0;
    if (next == ipproto::kFragment) {
      length = 8;
      present |= 0x10;
    } else if (next == ipproto::kAh) {
      length = (static_cast<std::size_t>(b[at + 1]) + 2) * 4;
      present |= 0x08;
    } else {
      length = (static_cast<std::size_t>(b[at + 1]) + 1) * 8;
      present |= next == ipproto::kHopByHop ? 0x80 : next == ipproto::kRouting ? 0x20 : 0x40;
    }
    next = b[at];
    at += length;
    if (at > b.size()) break;
  }
  if (next != ipproto::kNoNextHeader && next != ipproto::kEsp) present |= 0x01;
  return present;
}

class Ipv6HeaderMatch final : public Match {
 public:
  Ipv6HeaderMatch(std::uint8_t headers, bool negated, bool soft)
      : headers_(headers), negated_(negated), soft_(soft) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    const std::optional<std::uint8_t> present = headers_present(packet);
    if (!present) return false;
    if (soft_) {
      const std::uint8_t inverted = negated_ ? 0xff : 0x00;
      return ((*present ^ headers_ ^ inverted) & headers_) == 0;
    }
    return (*present == headers_) != negated_;
  }

  [[nodiscard]] std::optional<Family> family() const override { return Family::kIPv6; }

  // "ipv6header flags:0x90", "ipv6header flags:!0x24 soft".
  void list(ListRow& row) const override {
    std::array<char, 5> flags{};
    std::snprintf(flags.data(), flags.size(), "0x%02X", headers_);
    row.add_extra(std::string("ipv6header flags:") + (negated_ ? "!" : "") + flags.data() +
                  (soft_ ? " soft" : ""));
  }

 private:
  std::uint8_t headers_;
  bool negated_;
  bool soft_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<Ipv6HeaderMatch>(
      static_cast<std::uint8_t>(options.get<std::uint64_t>("header")), options.negated("header"),
      options.has("soft"));
}

const std::array<OptionSpec, 2> kOptions = {
    {{.key = "header",
      .flag = "--header",
      .type = &kHeadersType,
      .negatable = true,
      .mandatory = true,
      .doc = "the extension headers the IPv6 packet carries, exactly (\"protocol\": a header "
             "other than ESP or no-next-header ends the chain)"},
     {.key = "soft",
      .flag = "--soft",
      .type = &value_types::flag(),
      .doc = "the packet carries at least these headers (negated: none of them)"}}};

const MatchRegistrar kRegistrar({.name = "ipv6header",
                                 .summary = "the IPv6 extension headers a packet carries",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
