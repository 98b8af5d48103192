// --tcp-flags MASK COMPARE and --syn: the TCP flags selected by the mask
// equal the compared set.
#include <algorithm>
#include <array>
#include <cstdio>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

struct FlagName {
  std::string_view name;
  std::uint8_t bits;
};

// iptables knows these six flags (ECE and CWR cannot be written), in the
// order iptables-save prints them.
constexpr std::array<FlagName, 6> kFlags = {{{"FIN", tcpflag::kFin},
                                             {"SYN", tcpflag::kSyn},
                                             {"RST", tcpflag::kRst},
                                             {"PSH", tcpflag::kPsh},
                                             {"ACK", tcpflag::kAck},
                                             {"URG", tcpflag::kUrg}}};
constexpr std::uint8_t kAll = 0x3f;
constexpr std::uint8_t kSynMask = tcpflag::kFin | tcpflag::kSyn | tcpflag::kRst | tcpflag::kAck;

constexpr std::string_view kWhatFlags =
    "TCP flags: a list or comma-separated string of FIN, SYN, RST, PSH, ACK, URG, or ALL or NONE";

std::optional<std::uint8_t> flag_bits(std::string_view name) {
  if (name == "ALL") {
    return kAll;
  }
  if (name == "NONE") {
    return 0;
  }
  auto flag =
      std::find_if(kFlags.begin(), kFlags.end(), [&](const FlagName& f) { return f.name == name; });
  if (flag == kFlags.end()) {
    return std::nullopt;
  }
  return flag->bits;
}

std::uint8_t parse_flags(const Json& v) {
  std::uint8_t bits = 0;
  if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto flag = v[i].is_string() ? flag_bits(v[i].get_ref<const std::string&>()) : std::nullopt;
      if (!flag) {
        throw FieldError("expected " + std::string(kWhatFlags) + ", got " + v[i].dump(),
                         "/" + std::to_string(i));
      }
      bits |= *flag;
    }
    return bits;
  }
  std::string_view text = expect_string(v, kWhatFlags);
  while (true) {
    const auto comma = text.find(',');
    auto flag = flag_bits(text.substr(0, comma));
    if (!flag) {
      throw_expected(kWhatFlags, v);
    }
    bits |= *flag;
    if (comma == std::string_view::npos) {
      return bits;
    }
    text.remove_prefix(comma + 1);
  }
}

// "FIN,SYN,RST,ACK" or "NONE", as iptables-save prints a flag set.
std::string flag_names(std::uint8_t bits) {
  std::string names;
  for (const FlagName& f : kFlags) {
    if ((bits & f.bits) != 0) {
      names += (names.empty() ? "" : ",") + std::string(f.name);
    }
  }
  return names.empty() ? "NONE" : names;
}

class TcpFlagsMatch final : public Match {
 public:
  TcpFlagsMatch(std::uint8_t mask, std::uint8_t compare, bool negated)
      : mask_(mask), compare_(compare), negated_(negated) {}

  // Like the port matches, a packet without a whole TCP header never matches.
  bool matches(const PacketView& packet, EvalState& state) const override {
    if (!packet.is_first_fragment_or_whole()) {
      return false;
    }
    if (!packet.has_tcp) {
      state.hotdrop = true;  // the header is cut short: the kernel drops the packet
      return false;
    }
    return ((packet.tcp_flags & mask_) == compare_) != negated_;
  }

  // iptables -L -n prints the flags in hex: "tcp flags:!0x17/0x02". An empty
  // mask tests nothing, and iptables shows and saves only "tcp" for it.
  void list(ListRow& row) const override {
    if (tests_nothing()) {
      row.add_extra("tcp");
      return;
    }
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "tcp flags:%s0x%02X/0x%02X", negated_ ? "!" : "",
                  static_cast<unsigned>(mask_), static_cast<unsigned>(compare_));
    row.add_extra(text.data());
  }

  // --syn is saved the way iptables-save prints it, as its --tcp-flags.
  void save(SaveLine& line) const override {
    line.matches += " -m tcp";
    if (tests_nothing()) {
      return;
    }
    line.matches += std::string(negated_ ? " !" : "") + " --tcp-flags " + flag_names(mask_) + " " +
                    flag_names(compare_);
  }

 private:
  [[nodiscard]] bool tests_nothing() const { return mask_ == 0 && !negated_; }

  std::uint8_t mask_;
  std::uint8_t compare_;
  bool negated_;
};

void require_tcp(const MatchArgs& args) {
  const auto protocol = rule_protocol(args.rule_match);
  if (!protocol || *protocol != ipproto::kTcp) {
    throw FieldError(std::string(args.key) + " needs \"protocol\": \"tcp\" in the same rule");
  }
}

std::unique_ptr<Match> make_tcp_flags(const MatchArgs& args) {
  require_tcp(args);
  constexpr std::string_view kWhat = R"(an object {"mask": FLAGS, "compare": FLAGS})";
  expect_object_keys(args.value, {"mask", "compare"}, kWhat);
  if (!args.value.contains("mask") || !args.value.contains("compare")) {
    throw_expected(kWhat, args.value);
  }
  auto member = [&](const char* key) {
    try {
      return parse_flags(args.value[key]);
    } catch (FieldError& e) {
      e.pointer_suffix = std::string("/") + key + e.pointer_suffix;
      throw;
    }
  };
  const std::uint8_t mask = member("mask");
  return std::make_unique<TcpFlagsMatch>(mask, member("compare"), args.negated);
}

std::unique_ptr<Match> make_syn(const MatchArgs& args) {
  require_tcp(args);
  if (args.value != true) {
    throw_expected("true", args.value);
  }
  return std::make_unique<TcpFlagsMatch>(kSynMask, tcpflag::kSyn, args.negated);
}

const MatchRegistrar kTcpFlags("tcp_flags", {make_tcp_flags, true});
const MatchRegistrar kSyn("syn", {make_syn, true});

}  // namespace

}  // namespace verdictd
