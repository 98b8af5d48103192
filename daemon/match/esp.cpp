// -m esp: the SPI of an ESP packet, as xt_esp's esp_mt: later fragments never
// match, and a header cut short drops the packet (hotdrop). Both families;
// the rule's -p must be esp.
#include <array>

#include "extension/match.hpp"
#include "match/spi_range.hpp"
#include "packet/ipv6_extension.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kEspHeader = 8;  // struct ip_esp_hdr: SPI and sequence number

class EspMatch final : public Match {
 public:
  explicit EspMatch(SpiTest spi) : spi_(spi) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    if (!packet.is_first_fragment_or_whole()) return false;
    const std::size_t at = packet.transport_offset;
    if (at + kEspHeader > packet.bytes.size()) {
      state.hotdrop = true;
      return false;
    }
    const std::span<const std::uint8_t> b = packet.bytes;
    return spi_.passes(static_cast<std::uint32_t>(b[at]) << 24U | b[at + 1] << 16U |
                       b[at + 2] << 8U | b[at + 3]);
  }

  // "esp spis:5:10"; "esp " for the whole range.
  void list(ListRow& row) const override { row.add_extra("esp " + spi_.list_text("spi")); }

  void save(SaveLine& line) const override {
    line.matches += " -m esp" + spi_.save_text("--espspi");
  }

 private:
  SpiTest spi_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<EspMatch>(SpiTest::from(options, "espspi"));
}

const std::array<OptionSpec, 1> kOptions = {{{.key = "espspi",
                                              .flag = "--espspi",
                                              .type = &spi_range_type(),
                                              .negatable = true,
                                              .doc = "the ESP header's SPI is in the range"}}};

constexpr std::array<std::uint8_t, 1> kEspProtocol = {ipproto::kEsp};

const MatchRegistrar kRegistrar({.name = "esp",
                                 .summary = "the SPI of an ESP packet",
                                 .options = kOptions,
                                 .protocols = kEspProtocol,
                                 .build = build});

}  // namespace

}  // namespace verdictd
