// --sport / --dport: one port or range is the protocol's own match
// (-m tcp, -m udp, -m sctp); a list is -m multiport.
#include <algorithm>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

// The match iptables loads for a single port or range; udplite has none, so
// its ports always go through multiport.
std::string_view protocol_match_name(std::uint8_t protocol) {
  switch (protocol) {
    case ipproto::kTcp:
      return "tcp";
    case ipproto::kUdp:
      return "udp";
    case ipproto::kSctp:
      return "sctp";
    default:
      return {};
  }
}

class PortMatch final : public Match {
 public:
  PortMatch(bool source, std::vector<PortRange> ports, bool multiport, std::uint8_t protocol,
            bool negated)
      : source_(source),
        ports_(std::move(ports)),
        multiport_(multiport),
        protocol_(protocol),
        negated_(negated) {}

  // A non-first fragment never matches, negated or not; a first packet whose
  // header is cut short is dropped outright, as the kernel does.
  bool matches(const PacketView& packet, EvalState& state) const override {
    if (!packet.is_first_fragment_or_whole()) {
      return false;
    }
    // multiport reads the 4 bytes of ports; xt_tcp, xt_udp and xt_sctp their
    // whole header (20, 8 and 12 bytes).
    const bool has_header = packet.has_ports && packet.transport_bytes >= header_needed();
    if (!has_header) {
      state.hotdrop = true;
      return false;
    }
    const std::uint16_t port = source_ ? packet.source_port : packet.destination_port;
    const bool listed = std::any_of(ports_.begin(), ports_.end(),
                                    [&](const PortRange& r) { return r.contains(port); });
    return listed != negated_;
  }

  [[nodiscard]] std::size_t header_needed() const {
    if (multiport_) return 4;
    switch (protocol_) {
      case ipproto::kTcp:
        return 20;
      case ipproto::kSctp:
        return 12;
      default:
        return 8;
    }
  }

  // As iptables -L -n: "tcp dpt:22", "udp spts:!1024:65535",
  // "multiport dports  !80,443"; "tcp" alone for a non-negated 0:65535.
  void list(ListRow& row) const override {
    if (multiport_) {
      row.add_extra(std::string("multiport ") + (source_ ? "sports " : "dports ") +
                    (negated_ ? " !" : "") + joined());
      return;
    }
    std::string text(protocol_match_name(protocol_));
    const PortRange& range = ports_.front();
    if (!is_everything() || negated_) {
      text += std::string(source_ ? " spt" : " dpt") + (range.is_single() ? ":" : "s:") +
              (negated_ ? "!" : "") + range.to_string();
    }
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    if (multiport_) {
      line.matches += std::string(" -m multiport") + (negated_ ? " !" : "") +
                      (source_ ? " --sports " : " --dports ") + joined();
      return;
    }
    line.matches += " -m " + std::string(protocol_match_name(protocol_));
    if (is_everything() && !negated_) {
      return;
    }
    line.matches += std::string(negated_ ? " !" : "") + (source_ ? " --sport " : " --dport ") +
                    ports_.front().to_string();
  }

 private:
  [[nodiscard]] bool is_everything() const {
    return ports_.front().low == 0 && ports_.front().high == 0xffff;
  }

  [[nodiscard]] std::string joined() const {
    std::string text;
    for (const PortRange& r : ports_) {
      text += (text.empty() ? "" : ",") + r.to_string();
    }
    return text;
  }

  bool source_;
  std::vector<PortRange> ports_;
  bool multiport_;
  std::uint8_t protocol_;
  bool negated_;
};

std::unique_ptr<Match> make_port(const MatchArgs& args) {
  const auto protocol = rule_protocol(args.rule_match);
  if (!protocol || (*protocol != ipproto::kTcp && *protocol != ipproto::kUdp &&
                    *protocol != ipproto::kUdplite && *protocol != ipproto::kSctp)) {
    throw FieldError(std::string(args.key) +
                     " needs \"protocol\": \"tcp\", \"udp\", \"udplite\" or \"sctp\" in the same "
                     "rule");
  }
  const bool multiport = args.value.is_array() || protocol_match_name(*protocol).empty();
  return std::make_unique<PortMatch>(args.key == "sport", parse_port_list(args.value), multiport,
                                     *protocol, args.negated);
}

const MatchRegistrar kSource("sport", {make_port, true});
const MatchRegistrar kDestination("dport", {make_port, true});

}  // namespace

}  // namespace verdictd
