// -m multiport: --sports / --dports / --ports (either port), a list of up to
// 15 ports or ranges (a range counting two), as multiport_mt. A list of ports, or ports for a
// protocol without a match of its own (UDP-Lite), are written with the same
// "sport" / "dport" keys and land here.
#include <algorithm>
#include <array>

#include "extension/match.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kPortBytes = 4;
constexpr std::array<std::uint8_t, 4> kProtocols = {ipproto::kTcp, ipproto::kUdp, ipproto::kUdplite,
                                                    ipproto::kSctp};

struct PortList {
  std::vector<PortRange> ports;
  bool negated = false;

  [[nodiscard]] bool passes(std::uint16_t port) const {
    const bool listed = std::any_of(ports.begin(), ports.end(),
                                    [&](const PortRange& r) { return r.contains(port); });
    return listed != negated;
  }
  // XT_MULTIPORT_EITHER: a range holding either port.
  [[nodiscard]] bool passes_either(std::uint16_t source, std::uint16_t destination) const {
    const bool listed = std::any_of(ports.begin(), ports.end(), [&](const PortRange& r) {
      return r.contains(source) || r.contains(destination);
    });
    return listed != negated;
  }
  [[nodiscard]] std::string text() const {
    std::string text;
    for (const PortRange& r : ports) text += (text.empty() ? "" : ",") + r.to_string();
    return text;
  }
};

// iptables keeps one multiport match per list, so a rule with lists for both
// ports holds two; this one match stands for both, and saves as two.
class MultiportMatch final : public Match {
 public:
  MultiportMatch(std::optional<PortList> source, std::optional<PortList> destination,
                 std::optional<PortList> either)
      : source_(std::move(source)),
        destination_(std::move(destination)),
        either_(std::move(either)) {}

  // multiport reads only the 4 bytes of ports.
  bool matches(const PacketView& packet, EvalState& state) const override {
    if (!packet.is_first_fragment_or_whole()) return false;
    if (!packet.has_ports || packet.transport_bytes < kPortBytes) {
      state.hotdrop = true;
      return false;
    }
    return (!source_ || source_->passes(packet.source_port)) &&
           (!destination_ || destination_->passes(packet.destination_port)) &&
           (!either_ || either_->passes_either(packet.source_port, packet.destination_port));
  }

  // "multiport dports  !80,443", as iptables -L -n prints it.
  void list(ListRow& row) const override {
    if (source_) row.add_extra(list_text("sports ", *source_));
    if (destination_) row.add_extra(list_text("dports ", *destination_));
    if (either_) row.add_extra(list_text("ports ", *either_));
  }

  void save(SaveLine& line) const override {
    if (source_) line.matches += save_text(" --sports ", *source_);
    if (destination_) line.matches += save_text(" --dports ", *destination_);
    if (either_) line.matches += save_text(" --ports ", *either_);
  }

 private:
  static std::string list_text(const char* label, const PortList& list) {
    return std::string("multiport ") + label + (list.negated ? " !" : "") + list.text();
  }
  static std::string save_text(const char* flag, const PortList& list) {
    return std::string(" -m multiport") + (list.negated ? " !" : "") + flag + list.text();
  }

  std::optional<PortList> source_;
  std::optional<PortList> destination_;
  std::optional<PortList> either_;
};

std::optional<PortList> port_list(const OptionValues& options, std::string_view key) {
  const OptionValue* given = options.find(key);
  if (given == nullptr) return std::nullopt;
  return PortList{std::get<std::vector<PortRange>>(given->value), given->negated};
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<MultiportMatch>(port_list(options, "sport"), port_list(options, "dport"),
                                          port_list(options, "ports"));
}

const std::array<OptionSpec, 3> kOptions = {{{.key = "sport",
                                              .flag = "--sports",
                                              .aliases = "--source-ports",
                                              .type = &value_types::port_list(),
                                              .negatable = true,
                                              .doc = "the source port is one of the list"},
                                             {.key = "dport",
                                              .flag = "--dports",
                                              .aliases = "--destination-ports",
                                              .type = &value_types::port_list(),
                                              .negatable = true,
                                              .doc = "the destination port is one of the list"},
                                             {.key = "ports",
                                              .flag = "--ports",
                                              .type = &value_types::port_list(),
                                              .negatable = true,
                                              .doc = "the source or the destination port is one of "
                                                     "the list"}}};

const MatchRegistrar kRegistrar(
    {.name = "multiport",
     .summary = "a list of ports (a JSON array for \"sport\" or \"dport\", or any ports of "
                "\"protocol\": \"udplite\")",
     .options = kOptions,
     .protocols = kProtocols,
     .build = build});

}  // namespace

}  // namespace verdictd
