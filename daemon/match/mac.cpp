// -m mac: the sender's hardware address of a packet received from an
// Ethernet device, as xt_mac's mac_mt compares the Ethernet header's source.
// The kernel's match is false (negated or not) when the device is not
// Ethernet or no link-layer header is left in front of the packet: then
// NFQUEUE has no NFQA_HWADDR either, and the link cache knows the kind.
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::string_view kWhat = R"(a MAC address "XX:XX:XX:XX:XX:XX")";

std::string mac_text(const MacAddress& mac) {
  std::array<char, 18> text{};
  std::snprintf(text.data(), text.size(), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5]);
  return text.data();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Six bytes of one or two hexadecimal digits each, colon-separated, as
// libxtables' xtables_parse_mac reads them; kept as the string iptables
// prints ("00:11:22:aa:bb:cc").
class MacType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "MAC address"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    return mac_text(parse_mac(expect_string(v, kWhat), v));
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json example() const override { return "00:11:22:33:44:55"; }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"pattern", "^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$"}};
  }

  static MacAddress parse_mac(std::string_view text, const Json& v) {
    MacAddress mac{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < mac.size(); ++i) {
      if (i > 0) {
        if (at >= text.size() || text[at] != ':') throw_expected(kWhat, v);
        ++at;
      }
      int value = -1;
      std::size_t digits = 0;
      while (at < text.size() && digits < 2 && hex_digit(text[at]) >= 0) {
        value = (value < 0 ? 0 : value * 16) + hex_digit(text[at]);
        ++at;
        ++digits;
      }
      if (digits == 0) throw_expected(kWhat, v);
      mac[i] = static_cast<std::uint8_t>(value);
    }
    if (at != text.size()) throw_expected(kWhat, v);
    return mac;
  }
};

const MacType kMacType;

class MacMatch final : public Match {
 public:
  MacMatch(MacAddress address, bool negated) : address_(address), negated_(negated) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    const ReceivedLink& link = state.link;
    if (link.device != LinkKind::kEthernet || !link.source) return false;
    return (*link.source == address_) != negated_;
  }

  // "MAC 00:11:22:aa:bb:cc", "MAC ! 00:11:22:aa:bb:cc".
  void list(ListRow& row) const override {
    row.add_extra(std::string("MAC ") + (negated_ ? "! " : "") + mac_text(address_));
  }

 private:
  MacAddress address_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const std::string& text = options.get<std::string>("mac_source");
  return std::make_unique<MacMatch>(MacType::parse_mac(text, text), options.negated("mac_source"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "mac_source",
      .flag = "--mac-source",
      .type = &kMacType,
      .negatable = true,
      .doc = "the sender's hardware address, from the Ethernet header the packet came in with "
             "(never matches, negated or not, a packet from a device that is not Ethernet)"}}};

const MatchRegistrar kRegistrar({.name = "mac",
                                 .summary = "the sender's MAC address",
                                 .options = kOptions,
                                 .hooks = hook_bit(Hook::kPrerouting) | hook_bit(Hook::kInput) |
                                          hook_bit(Hook::kForward),
                                 .build = build});

}  // namespace

}  // namespace verdictd
