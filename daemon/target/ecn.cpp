// -j ECN (IPv4 only, mangle table): clears or sets the TCP header's ECE and
// CWR bits and sets the ECN codepoint of the TOS byte, as ipt_ECN.c's
// ecn_tg: set_ect_ip, then set_ect_tcp for a TCP packet, each only when a
// bit differs, with the IPv4 header and TCP checksums updated. Like the
// kernel it reads the TCP header after the IP header of every packet whose
// protocol is TCP, and drops one too short to hold it.
#include <algorithm>
#include <array>

#include "extension/error.hpp"
#include "extension/target.hpp"
#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"
#include "target/packet_rewrite.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kEcnBits = 0x03;    // of the TOS byte
constexpr std::size_t kTcpFlagsWord = 12;  // data offset and flags
constexpr std::size_t kTcpChecksum = 16;

struct Operation {
  std::optional<bool> ece;             // --ecn-tcp-ece
  std::optional<bool> cwr;             // --ecn-tcp-cwr
  std::optional<std::uint8_t> ip_ect;  // --ecn-ip-ect
  // --ecn-tcp-remove alone, as libipt_ECN prints and saves it.
  [[nodiscard]] bool is_tcp_remove() const { return ece == false && cwr == false && !ip_ect; }
};

class EcnTarget final : public Target {
 public:
  explicit EcnTarget(Operation op) : op_(op) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    if (!packet.has_network) return TargetAction::kContinue;
    if (op_.ip_ect && (packet.tos & kEcnBits) != *op_.ip_ect) {
      const auto tos = static_cast<std::uint8_t>((packet.tos & ~kEcnBits) | *op_.ip_ect);
      const TargetAction done = rewrite_packet(state, [&](std::vector<std::uint8_t>& bytes) {
        write_dsfield(bytes, Family::kIPv4, tos);
      });
      if (done != TargetAction::kContinue) return done;
    }
    if ((!op_.ece && !op_.cwr) || packet.protocol != ipproto::kTcp) {
      return TargetAction::kContinue;
    }
    // The TCP header right after the IP header, within the packet's length.
    const std::size_t at = static_cast<std::size_t>(packet.bytes[0] & 0x0fU) * 4;
    const std::size_t end = std::min<std::size_t>(packet.bytes.size(), packet.length);
    if (end < at + kTcpHeader) return TargetAction::kDrop;
    const std::uint8_t flags = packet.bytes[at + kTcpFlagsWord + 1];
    std::uint8_t changed = flags;
    if (op_.ece) changed = with_bit(changed, tcpflag::kEce, *op_.ece);
    if (op_.cwr) changed = with_bit(changed, tcpflag::kCwr, *op_.cwr);
    if (changed == flags) return TargetAction::kContinue;
    return rewrite_packet(state, [&](std::vector<std::uint8_t>& bytes) {
      const std::span<std::uint8_t> tcp = std::span(bytes).subspan(at, kTcpHeader);
      const std::uint16_t before = read16(tcp, kTcpFlagsWord);
      tcp[kTcpFlagsWord + 1] = changed;
      write16(tcp, kTcpChecksum,
              checksum::update16(read16(tcp, kTcpChecksum), before, read16(tcp, kTcpFlagsWord)));
    });
  }

  [[nodiscard]] std::optional<Family> family() const override { return Family::kIPv4; }

  // As libipt_ECN prints it: "ECN TCP remove", "ECN ECE=1 ECT codepoint=2".
  [[nodiscard]] std::string list_extra() const override {
    if (op_.is_tcp_remove()) return "ECN TCP remove";
    std::string text = "ECN";
    if (op_.ece) text += " ECE=" + std::to_string(static_cast<int>(*op_.ece));
    if (op_.cwr) text += " CWR=" + std::to_string(static_cast<int>(*op_.cwr));
    if (op_.ip_ect) text += " ECT codepoint=" + std::to_string(*op_.ip_ect);
    return text;
  }

  [[nodiscard]] std::string save() const override {
    if (op_.is_tcp_remove()) return "-j ECN --ecn-tcp-remove";
    std::string text = "-j ECN";
    if (op_.ece) text += " --ecn-tcp-ece " + std::to_string(static_cast<int>(*op_.ece));
    if (op_.cwr) text += " --ecn-tcp-cwr " + std::to_string(static_cast<int>(*op_.cwr));
    if (op_.ip_ect) text += " --ecn-ip-ect " + std::to_string(*op_.ip_ect);
    return text;
  }

 private:
  static std::uint8_t with_bit(std::uint8_t flags, std::uint8_t bit, bool on) {
    return static_cast<std::uint8_t>(on ? flags | bit : flags & ~bit);
  }

  Operation op_;
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& context) {
  Operation op;
  if (options.has("ecn_tcp_remove")) {
    op.ece = false;
    op.cwr = false;
  }
  if (options.has("ecn_tcp_ece")) op.ece = options.get<std::uint64_t>("ecn_tcp_ece") != 0;
  if (options.has("ecn_tcp_cwr")) op.cwr = options.get<std::uint64_t>("ecn_tcp_cwr") != 0;
  if (options.has("ecn_ip_ect")) {
    op.ip_ect = static_cast<std::uint8_t>(options.get<std::uint64_t>("ecn_ip_ect"));
  }
  // ecn_tg_check: the TCP bits only in a rule for TCP.
  if ((op.ece || op.cwr) && context.protocol != ipproto::kTcp) {
    throw FieldError(R"(the TCP operations need a rule with "protocol": "tcp")");
  }
  return std::make_unique<EcnTarget>(op);
}

const std::array<OptionSpec, 4> kOptions = {{
    {.key = "ecn_tcp_remove",
     .flag = "--ecn-tcp-remove",
     .type = &value_types::flag(),
     .doc = "clear the TCP header's ECE and CWR bits"},
    {.key = "ecn_tcp_cwr",
     .flag = "--ecn-tcp-cwr",
     .type = &value_types::number(1),
     .doc = "set the TCP header's CWR bit to 0 or 1"},
    {.key = "ecn_tcp_ece",
     .flag = "--ecn-tcp-ece",
     .type = &value_types::number(1),
     .doc = "set the TCP header's ECE bit to 0 or 1"},
    {.key = "ecn_ip_ect",
     .flag = "--ecn-ip-ect",
     .type = &value_types::number(3),
     .doc = "set the ECN codepoint of the TOS byte, 0-3"},
}};
constexpr std::array<Constraint, 3> kConstraints = {{
    {Constraint::Kind::kAtLeastOne, "ecn_tcp_remove ecn_tcp_cwr ecn_tcp_ece ecn_ip_ect"},
    {Constraint::Kind::kAtMostOne, "ecn_tcp_remove ecn_tcp_cwr"},
    {Constraint::Kind::kAtMostOne, "ecn_tcp_remove ecn_tcp_ece"},
}};

const TargetRegistrar kRegistrar({.name = "ECN",
                                  .summary = "clears or sets the ECN bits of IPv4 TCP packets",
                                  .options = kOptions,
                                  .constraints = kConstraints,
                                  .tables = kMangleTable,
                                  .build = build});

}  // namespace

}  // namespace verdictd
