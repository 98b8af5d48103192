// -m tcpmss: the value of a TCP segment's MSS option, as xt_tcpmss's
// tcpmss_mt walks the options: a segment without the option matches only
// negated (whatever its flags; in practice SYNs carry it), and one whose
// header or options are cut short is dropped (hotdrop).
#include <array>

#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kMssKind = 2;
constexpr std::uint8_t kMssLength = 4;
constexpr std::size_t kDataOffset = 12;

class TcpmssMatch final : public Match {
 public:
  TcpmssMatch(PortRange range, bool negated) : range_(range), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    // The header where the rule's -p tcp found it, as par->thoff.
    const std::span<const std::uint8_t> bytes = packet.bytes;
    const std::size_t at = packet.transport_offset;
    if (at + kTcpHeader > bytes.size()) return hotdrop(state);
    const std::size_t header = static_cast<std::size_t>(bytes[at + kDataOffset] >> 4U) * 4;
    if (header < kTcpHeader) return hotdrop(state);
    if (at + header > bytes.size()) return hotdrop(state);
    const std::span<const std::uint8_t> options =
        bytes.subspan(at + kTcpHeader, header - kTcpHeader);
    for (std::size_t i = 0; i < options.size();) {
      if (options[i] == kMssKind && options.size() - i >= kMssLength &&
          options[i + 1] == kMssLength) {
        const auto mss = static_cast<std::uint16_t>(options[i + 2] << 8U | options[i + 3]);
        return range_.contains(mss) != negated_;
      }
      // End and no-op take one byte; a length of 0 counts as one.
      if (options[i] < 2 || i + 1 >= options.size()) {
        ++i;
      } else {
        i += options[i + 1] != 0 ? options[i + 1] : 1;
      }
    }
    return negated_;
  }

  // "tcpmss match 1000:1460", "tcpmss match !536".
  void list(ListRow& row) const override {
    row.add_extra(std::string("tcpmss match ") + (negated_ ? "!" : "") + range_.to_string());
  }

 private:
  static bool hotdrop(EvalState& state) {
    state.hotdrop = true;
    return false;
  }

  PortRange range_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<TcpmssMatch>(options.get<PortRange>("mss"), options.negated("mss"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "mss",
      .flag = "--mss",
      .type = &value_types::u16_range(),
      .negatable = true,
      .doc = "the segment's MSS option is in the range (\"536\", \"1000:1460\"); a segment "
             "without the option matches only negated"}}};

constexpr std::array<std::uint8_t, 1> kTcp = {ipproto::kTcp};

const MatchRegistrar kRegistrar({.name = "tcpmss",
                                 .summary = "the value of the TCP MSS option",
                                 .options = kOptions,
                                 .protocols = kTcp,
                                 .build = build});

}  // namespace

}  // namespace verdictd
