// -j TCPMSS: lowers the MSS option of TCP SYN packets, as xt_TCPMSS.c's
// tcpmss_mangle_packet: to a fixed value (--set-mss) or to the path's MTU
// less 40 (IPv4) or 60 (IPv6) bytes of headers (--clamp-mss-to-pmtu). An MSS
// already at or below it stays; a SYN without the option and without data
// gets one, of at most the protocol's default (536, 1220), when its header
// has room. Any table, both families; like the kernel, the rule must be
// for TCP and test the SYN flag.
//
// The path MTU: the kernel takes the smaller of the MTU of the packet's route
// and of the route back to its source. verdictd takes the MTUs of the
// interfaces instead (the link cache): the one the packet leaves by, and the
// one it came in on when it came in (the route back, with symmetric routing;
// a local packet's route back is the loopback, no lower). A route with an
// MTU of its own ("ip route ... mtu 1400") or a learnt path MTU is not seen.
#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/target.hpp"
#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"
#include "target/packet_rewrite.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kMaxTcpHeader = 60;  // data offset 15
constexpr std::uint8_t kNop = 1;
constexpr std::uint8_t kMssKind = 2;
constexpr std::uint8_t kMssLength = 4;
constexpr std::size_t kTcpChecksum = 16;
constexpr std::size_t kTcpOffsetWord = 12;
constexpr std::uint64_t kMaxSetMss = 65495;

// RFC 1122's 536 for IPv4; for IPv6, RFC 2460's 1280 less 60 bytes of headers.
std::uint16_t default_mss(Family family) { return family == Family::kIPv4 ? 536 : 1220; }
// The headers the clamp takes off the MTU: IP and TCP without options.
std::uint32_t clamp_headers(Family family) { return family == Family::kIPv4 ? 40 : 60; }

// The length of the option at `at`; one byte for the end of the list, a
// no-op, and a length of 0 (optlen: always move on).
std::size_t option_length(std::span<const std::uint8_t> tcp, std::size_t at) {
  if (tcp[at] <= kNop || tcp[at + 1] == 0) return 1;
  return tcp[at + 1];
}

class TcpmssTarget final : public Target {
 public:
  // `mss` unset: clamp to the path MTU.
  explicit TcpmssTarget(std::optional<std::uint16_t> mss) : mss_(mss) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    // A fragment other than the first has no TCP header.
    if (!packet.has_network || packet.fragment_offset != 0) return TargetAction::kContinue;
    const std::size_t at = packet.transport_offset;
    const std::size_t length = packet.length > at ? packet.length - at : 0;
    if (length < kTcpHeader || packet.bytes.size() < at + kTcpHeader) return TargetAction::kDrop;
    const std::span<const std::uint8_t> tcp = packet.bytes.subspan(at);
    const std::size_t header = std::size_t{tcp[kTcpOffsetWord]} >> 4 << 2;
    if (length < header || header < kTcpHeader || tcp.size() < header) return TargetAction::kDrop;

    std::uint16_t mss = 0;
    if (mss_) {
      mss = *mss_;
    } else {
      const std::uint32_t mtu = path_mtu(state);
      if (mtu <= clamp_headers(packet.family)) return TargetAction::kDrop;
      mss = static_cast<std::uint16_t>(mtu - clamp_headers(packet.family));
    }

    for (std::size_t i = kTcpHeader; i + kMssLength <= header; i += option_length(tcp, i)) {
      if (tcp[i] != kMssKind || tcp[i + 1] != kMssLength) continue;
      // Never raised, even by --set-mss.
      if (read16(tcp, i + 2) <= mss) return TargetAction::kContinue;
      return rewrite_packet(state, [&](std::vector<std::uint8_t>& bytes) {
        const std::span<std::uint8_t> written = std::span(bytes).subspan(at);
        const std::uint16_t before = read16(written, i + 2);
        write16(written, i + 2, mss);
        write16(written, kTcpChecksum,
                checksum::update16(read16(written, kTcpChecksum), before, mss));
      });
    }
    // No MSS option: one is added where it fits without moving data.
    if (length > header || header >= kMaxTcpHeader) return TargetAction::kContinue;
    mss = std::min(mss, default_mss(packet.family));
    const Family family = packet.family;
    return rewrite_packet(state, [&](std::vector<std::uint8_t>& bytes) {
      const std::array<std::uint8_t, kMssLength> option = {kMssKind, kMssLength,
                                                           static_cast<std::uint8_t>(mss >> 8),
                                                           static_cast<std::uint8_t>(mss)};
      bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at + kTcpHeader), option.begin(),
                   option.end());
      const std::span<std::uint8_t> written = std::span(bytes).subspan(at);
      // The checksum: the pseudo-header's length, the option's two words
      // (the options after it moved by 4 bytes, which leaves their sum),
      // and the data offset.
      std::uint16_t sum = read16(written, kTcpChecksum);
      sum = checksum::update16(sum, static_cast<std::uint16_t>(length),
                               static_cast<std::uint16_t>(length + kMssLength));
      sum = checksum::update(sum, std::array<std::uint8_t, kMssLength>{},
                             std::span(written).subspan(kTcpHeader, kMssLength));
      const std::uint16_t offset_word = read16(written, kTcpOffsetWord);
      written[kTcpOffsetWord] = static_cast<std::uint8_t>(written[kTcpOffsetWord] + (1U << 4));
      sum = checksum::update16(sum, offset_word, read16(written, kTcpOffsetWord));
      write16(written, kTcpChecksum, sum);
      // The IP header's length.
      if (family == Family::kIPv4) {
        const std::uint16_t total = read16(bytes, 2);
        write16(bytes, 2, static_cast<std::uint16_t>(total + kMssLength));
        write16(bytes, 10, checksum::update16(read16(bytes, 10), total, read16(bytes, 2)));
      } else {
        write16(bytes, 4, static_cast<std::uint16_t>(read16(bytes, 4) + kMssLength));
      }
    });
  }

  [[nodiscard]] HookMask allowed_hooks() const override {
    // tcpmss_tg4_check: the path is known once the packet is routed.
    if (mss_) return spec().hooks;
    return hook_bit(Hook::kForward) | hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting);
  }

  [[nodiscard]] std::string list_extra() const override {
    return mss_ ? "TCPMSS set " + std::to_string(*mss_) : "TCPMSS clamp to PMTU";
  }

  [[nodiscard]] std::string save() const override {
    return mss_ ? "-j TCPMSS --set-mss " + std::to_string(*mss_) : "-j TCPMSS --clamp-mss-to-pmtu";
  }

 private:
  // The smaller MTU of the interfaces out and in (see the top of the file);
  // 0 when unknown, which the kernel refuses as it refuses an MTU too small.
  static std::uint32_t path_mtu(const EvalState& state) {
    if (state.mtus == nullptr || state.out_ifindex == 0) return 0;
    std::uint32_t mtu = state.mtus->mtu_of(state.out_ifindex);
    if (state.in_ifindex != 0) mtu = std::min(mtu, state.mtus->mtu_of(state.in_ifindex));
    return mtu;
  }

  std::optional<std::uint16_t> mss_;
};

// find_syn_match: a tcp match whose flags test (--syn, or --tcp-flags with
// SYN among the flags that must be set) is not negated.
bool tests_syn(const Json& match) {
  if (match.value("syn", false)) return true;
  const auto flags = match.find("tcp_flags");
  if (flags == match.end() || !flags->is_object() || !flags->contains("compare")) return false;
  const OptionSpec* option = find_option_by_flag("tcp", "--tcp-flags");
  for (const OptionSpec& member : option->members) {
    if (member.key != "compare") continue;
    return (std::get<ValueMask>(member.type->parse((*flags)["compare"])).value & tcpflag::kSyn) !=
           0;
  }
  return false;
}

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& context) {
  // The kernel's xt_target.proto and tcpmss_tg_check.
  if (context.protocol != ipproto::kTcp) {
    throw FieldError(R"(TCPMSS needs a rule with "protocol": "tcp")");
  }
  if (context.match_object == nullptr || !tests_syn(*context.match_object)) {
    throw FieldError(R"(TCPMSS works only on SYN packets: its rule needs "syn": true or a )"
                     R"("tcp_flags" test that SYN is set)");
  }
  if (options.has("set_mss")) {
    const std::uint64_t mss = options.get<std::uint64_t>("set_mss");
    // libxt_TCPMSS: 65535 less the IP header, 65515 for IPv4 and 65495 for
    // IPv6; a rule serves both families, so the lower bound holds.
    if (mss > kMaxSetMss) {
      throw FieldError(
          "expected an MSS of 0-" + std::to_string(kMaxSetMss) + ", got " + std::to_string(mss),
          "/set_mss");
    }
    return std::make_unique<TcpmssTarget>(static_cast<std::uint16_t>(mss));
  }
  return std::make_unique<TcpmssTarget>(std::nullopt);
}

const std::array<OptionSpec, 2> kOptions = {{
    {.key = "set_mss",
     .flag = "--set-mss",
     .type = &value_types::number(0xffff),
     .doc = "lower the MSS to this value"},
    {.key = "clamp_mss_to_pmtu",
     .flag = "--clamp-mss-to-pmtu",
     .type = &value_types::flag(),
     .doc = "lower the MSS to the path MTU less the IP and TCP headers (FORWARD, OUTPUT and "
            "POSTROUTING)"},
}};
constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kExactlyOne, "set_mss clamp_mss_to_pmtu"}}};

const TargetRegistrar kRegistrar({.name = "TCPMSS",
                                  .summary = "lowers the MSS option of TCP SYN packets",
                                  .options = kOptions,
                                  .constraints = kConstraints,
                                  .build = build});

}  // namespace

}  // namespace verdictd
