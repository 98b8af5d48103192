// -m tcp (loaded by -p tcp): --sport, --dport, --tcp-flags MASK COMPARE and
// --syn over the 20-byte TCP header, as tcp_mt.
#include <algorithm>
#include <array>
#include <cstdio>

#include "extension/error.hpp"
#include "match/transport_ports.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kTcpHeaderBytes = 20;
constexpr std::array<std::uint8_t, 1> kProtocols = {ipproto::kTcp};
constexpr std::uint8_t kAll = 0x3f;
constexpr std::uint8_t kSynMask = tcpflag::kFin | tcpflag::kSyn | tcpflag::kRst | tcpflag::kAck;

// iptables knows these six flags (ECE and CWR cannot be written), in the
// order iptables-save prints them, and ALL and NONE.
constexpr std::array<NamedBit, 8> kFlagNames = {{{"FIN", tcpflag::kFin},
                                                 {"SYN", tcpflag::kSyn},
                                                 {"RST", tcpflag::kRst},
                                                 {"PSH", tcpflag::kPsh},
                                                 {"ACK", tcpflag::kAck},
                                                 {"URG", tcpflag::kUrg},
                                                 {"ALL", kAll},
                                                 {"NONE", 0}}};
// Printing uses the six flags alone ("FIN,SYN,RST,PSH,ACK,URG" for ALL).
const NamesType kFlags("TCP flags", kFlagNames, /*empty_list_is_none=*/true);
const NamesType kPrintedFlags("TCP flags", std::span(kFlagNames).first(6));

struct FlagTest {
  std::uint8_t mask = 0;
  std::uint8_t compare = 0;
  bool negated = false;
  // An empty mask tests nothing; iptables shows and saves only "tcp" for it.
  [[nodiscard]] bool tests_nothing() const { return mask == 0 && !negated; }
};

class TcpMatch final : public Match {
 public:
  TcpMatch(TransportPorts ports, std::optional<FlagTest> flags) : ports_(ports), flags_(flags) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    if (!transport_header_present(packet, kTcpHeaderBytes, state)) return false;
    if (!packet.has_tcp) {
      state.hotdrop = true;
      return false;
    }
    return ports_.passes(packet) &&
           (!flags_ || ((packet.tcp_flags & flags_->mask) == flags_->compare) != flags_->negated);
  }

  // "tcp dpt:22 flags:!0x17/0x02", as iptables -L -n prints it.
  void list(ListRow& row) const override {
    std::string text = "tcp" + ports_.list_text();
    if (flags_ && !flags_->tests_nothing()) {
      std::array<char, 32> flags{};
      std::snprintf(flags.data(), flags.size(), " flags:%s0x%02X/0x%02X",
                    flags_->negated ? "!" : "", static_cast<unsigned>(flags_->mask),
                    static_cast<unsigned>(flags_->compare));
      text += flags.data();
    }
    row.add_extra(text);
  }

 private:
  TransportPorts ports_;
  std::optional<FlagTest> flags_;
};

std::string flags_text(std::uint8_t bits) { return kPrintedFlags.text(bits, "NONE"); }

std::string save_flags(const FlagTest& test) {
  if (test.tests_nothing()) return {};
  return std::string(test.negated ? " !" : "") + " --tcp-flags " + flags_text(test.mask) + " " +
         flags_text(test.compare);
}

FlagTest flag_test(const OptionValue& option) {
  if (option.spec->key == "syn") return {kSynMask, tcpflag::kSyn, option.negated};
  const OptionValues members(option.members);
  return {static_cast<std::uint8_t>(members.get<ValueMask>("mask").value),
          static_cast<std::uint8_t>(members.get<ValueMask>("compare").value), option.negated};
}

// --syn is saved the way iptables-save prints it, as its --tcp-flags.
std::string save_flag_option(const OptionValue& option) { return save_flags(flag_test(option)); }

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  std::optional<FlagTest> flags;
  for (const char* key : {"tcp_flags", "syn"}) {
    if (const OptionValue* given = options.find(key)) flags = flag_test(*given);
  }
  return std::make_unique<TcpMatch>(TransportPorts::from(options), flags);
}

const std::array<OptionSpec, 2> kFlagMembers = {
    {{.key = "mask",
      .type = &kFlags,
      .mandatory = true,
      .doc = "the flags to examine: FIN, SYN, RST, PSH, ACK, URG, ALL or NONE"},
     {.key = "compare", .type = &kFlags, .mandatory = true, .doc = "which of them must be set"}}};

const std::array<OptionSpec, 4> kOptions = {
    source_port_option(), destination_port_option(),
    OptionSpec{.key = "tcp_flags",
               .flag = "--tcp-flags",
               .negatable = true,
               .members = kFlagMembers,
               .doc = "the flags in \"mask\" are set as in \"compare\" (the others clear)",
               .save = save_flag_option},
    OptionSpec{.key = "syn",
               .flag = "--syn",
               .type = &value_types::flag(),
               .negatable = true,
               .doc = "SYN set and FIN, RST, ACK clear: a connection's first segment",
               .save = save_flag_option}};

constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kAtMostOne, "tcp_flags syn"}}};

const MatchRegistrar kRegistrar(
    {.name = "tcp",
     .summary = "TCP ports and flags (implied by \"protocol\": \"tcp\")",
     .options = kOptions,
     .constraints = kConstraints,
     .protocols = kProtocols,
     .implied = true,
     .build = build});

}  // namespace

}  // namespace verdictd
