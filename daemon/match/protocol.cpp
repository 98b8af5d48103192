// -p: the transport protocol (IPv4 protocol field, or the IPv6 header after
// the extension headers).
#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/system_names.hpp"
#include "extension/values.hpp"
#include "packet/protocol_names.hpp"

namespace verdictd {

namespace {

constexpr std::string_view kWhat =
    "a protocol (tcp, udp, icmp, ipv6-icmp, sctp, udplite, esp, ah, gre, all, or a name in the "
    "system's protocols database) or a number 0-255";

// As iptables-save prints -p: the system's name for the number, else ours.
std::string saved_protocol(std::uint8_t number) {
  return protocol_name_from_database(number).value_or(protocol_name(number));
}

class ProtocolMatch final : public Match {
 public:
  ProtocolMatch(std::uint8_t number, bool negated) : number_(number), negated_(negated) {}

  // Protocol 0 ("all") matches every packet, as the kernel skips the test.
  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return number_ == 0 || ((packet.protocol == number_) != negated_);
  }

  [[nodiscard]] std::optional<Family> family() const override {
    if (negated_) {
      return std::nullopt;
    }
    if (number_ == ipproto::kIcmp) {
      return Family::kIPv4;
    }
    if (number_ == ipproto::kIcmpv6) {
      return Family::kIPv6;
    }
    return std::nullopt;
  }

  // iptables -L -n prints the number.
  void list(ListRow& row) const override {
    row.protocol = (negated_ ? "!" : "") + std::to_string(number_);
  }

  void save(SaveLine& line) const override {
    if (number_ == 0) {
      return;
    }
    line.protocol = std::string(negated_ ? "! " : "") + "-p " + saved_protocol(number_);
  }

 private:
  std::uint8_t number_;
  bool negated_;
};

// A protocol name or number, as -p takes it.
class ProtocolType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "protocol"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    const std::optional<std::uint8_t> known = protocol_number(v);
    if (!known) throw_expected(kWhat, v);
    return std::uint64_t{*known};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return saved_protocol(static_cast<std::uint8_t>(std::get<std::uint64_t>(v)));
  }
  [[nodiscard]] Json example() const override { return "tcp"; }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"anyOf", Json::array({Json{{"type", "string"}, {"minLength", 1}},
                               Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 255}}})}};
  }
};

const ProtocolType kProtocolType;

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const auto number = static_cast<std::uint8_t>(options.get<std::uint64_t>("protocol"));
  const bool negated = options.negated("protocol");
  if (number == 0 && negated) {
    throw FieldError(
        "\"!protocol\": \"all\""
        " would never match");
  }
  return std::make_unique<ProtocolMatch>(number, negated);
}

const std::array<OptionSpec, 1> kOption = {
    {{.key = "protocol",
      .flag = "--protocol",
      .aliases = "-p",
      .type = &kProtocolType,
      .negatable = true,
      .doc = "the transport protocol (IPv4's protocol field, or IPv6's header after the "
             "extension headers); \"all\" or 0 matches every packet"}}};

const MatchRegistrar kRegistrar({.summary = "protocol (-p)", .options = kOption, .build = build});

}  // namespace

// As iptables reads -p: a number, then (lower-cased) "all", a name the
// system's database knows ("vrrp"), or one of iptables' own names ("icmpv6").
std::optional<std::uint8_t> protocol_number(const Json& value) {
  if (value.is_string()) {
    std::string name = value.get<std::string>();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      return name.size() <= 3 && std::stoul(name) <= 0xff
                 ? std::optional<std::uint8_t>(static_cast<std::uint8_t>(std::stoul(name)))
                 : std::nullopt;
    }
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "all") return 0;
    if (const std::optional<std::uint8_t> known = protocol_from_database(name)) return known;
    return protocol_by_name(name);
  }
  if (value.is_number_unsigned() && value.get<std::uint64_t>() <= 0xff) {
    return static_cast<std::uint8_t>(value.get<std::uint64_t>());
  }
  return std::nullopt;
}

}  // namespace verdictd
