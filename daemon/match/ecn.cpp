// -m ecn: the ECN codepoint of the IPv4 TOS byte or the IPv6 traffic class,
// and the TCP header's ECE and CWR bits, as xt_ecn's ecn_mt4 and ecn_mt6.
// Each test is negated on its own; the TCP tests need the rule's -p tcp.
#include <array>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kEcnMask = 0x03;
constexpr std::size_t kFlagsOffset = 13;

struct BitTest {
  bool negated = false;
};

class EcnMatch final : public Match {
 public:
  EcnMatch(std::optional<BitTest> ece, std::optional<BitTest> cwr, std::optional<std::uint8_t> ect,
           bool ect_negated)
      : ece_(ece), cwr_(cwr), ect_(ect), ect_negated_(ect_negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    if (ect_ && ((packet.tos & kEcnMask) == *ect_) == ect_negated_) return false;
    if (!ece_ && !cwr_) return true;
    // match_tcp reads the 20-byte header where the transport starts, as the
    // rule's -p tcp found it (a later fragment's bytes too); false without.
    const std::size_t at = packet.transport_offset;
    if (at + kTcpHeader > packet.bytes.size()) return false;
    const std::uint8_t flags = packet.bytes[at + kFlagsOffset];
    return passes(ece_, flags & tcpflag::kEce) && passes(cwr_, flags & tcpflag::kCwr);
  }

  // "ECN match !ECE CWR ECT=2".
  void list(ListRow& row) const override {
    std::string text = "ECN match";
    if (ece_) text += std::string(" ") + (ece_->negated ? "!" : "") + "ECE";
    if (cwr_) text += std::string(" ") + (cwr_->negated ? "!" : "") + "CWR";
    if (ect_) text += std::string(" ") + (ect_negated_ ? "!" : "") + "ECT=" + std::to_string(*ect_);
    row.add_extra(text);
  }

 private:
  static bool passes(const std::optional<BitTest>& test, int bit) {
    return !test || ((bit != 0) != test->negated);
  }

  std::optional<BitTest> ece_;
  std::optional<BitTest> cwr_;
  std::optional<std::uint8_t> ect_;
  bool ect_negated_;
};

std::optional<BitTest> bit_test(const OptionValues& options, std::string_view key) {
  if (!options.has(key)) return std::nullopt;
  return BitTest{options.negated(key)};
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& context) {
  const std::optional<BitTest> ece = bit_test(options, "ecn_tcp_ece");
  const std::optional<BitTest> cwr = bit_test(options, "ecn_tcp_cwr");
  if ((ece || cwr) && context.protocol != ipproto::kTcp) {
    throw FieldError(R"("ecn_tcp_ece" and "ecn_tcp_cwr" need "protocol": "tcp")");
  }
  std::optional<std::uint8_t> ect;
  if (options.has("ecn_ip_ect")) {
    ect = static_cast<std::uint8_t>(options.get<std::uint64_t>("ecn_ip_ect"));
  }
  return std::make_unique<EcnMatch>(ece, cwr, ect, options.negated("ecn_ip_ect"));
}

// In libxt_ecn's save order: ECE, CWR, then the codepoint.
const std::array<OptionSpec, 3> kOptions = {
    {{.key = "ecn_tcp_ece",
      .flag = "--ecn-tcp-ece",
      .type = &value_types::flag(),
      .negatable = true,
      .doc = "the TCP header's ECE bit is set (the rule's protocol must be tcp)"},
     {.key = "ecn_tcp_cwr",
      .flag = "--ecn-tcp-cwr",
      .type = &value_types::flag(),
      .negatable = true,
      .doc = "the TCP header's CWR bit is set (the rule's protocol must be tcp)"},
     {.key = "ecn_ip_ect",
      .flag = "--ecn-ip-ect",
      .type = &value_types::number(kEcnMask),
      .negatable = true,
      .doc = "the ECN codepoint of the IPv4 TOS byte or the IPv6 traffic class equals this "
             "value, 0-3"}}};

const MatchRegistrar kRegistrar({.name = "ecn",
                                 .summary = "the ECN bits of the IP and TCP headers",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
