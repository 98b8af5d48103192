#include "conntrack/flow_listing.hpp"

#include <array>
#include <stdexcept>

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

struct ProtocolName {
  std::uint8_t number;
  std::string_view name;
};
constexpr std::array<ProtocolName, 7> kProtocolNames = {{{ipproto::kTcp, "tcp"},
                                                         {ipproto::kUdp, "udp"},
                                                         {ipproto::kIcmp, "icmp"},
                                                         {ipproto::kIcmpv6, "icmpv6"},
                                                         {ipproto::kSctp, "sctp"},
                                                         {ipproto::kUdplite, "udplite"},
                                                         {47, "gre"}}};

std::uint8_t parse_protocol(const Json& v) {
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= 255) {
    return static_cast<std::uint8_t>(v.get<std::int64_t>());
  }
  if (v.is_string()) {
    for (const auto& p : kProtocolNames) {
      if (p.name == v.get<std::string>()) return p.number;
    }
  }
  throw std::invalid_argument("unknown protocol " + v.dump() +
                              "; expected tcp, udp, icmp, icmpv6, sctp, udplite, gre or 0-255");
}

IpAddress parse_address(const Json& v) {
  const auto address = v.is_string() ? IpAddress::parse(v.get<std::string>()) : std::nullopt;
  if (!address) throw std::invalid_argument("not an IP address: " + v.dump());
  return *address;
}

std::uint16_t parse_port(const Json& v) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 65535) {
    throw std::invalid_argument("not a port number: " + v.dump());
  }
  return static_cast<std::uint16_t>(v);
}

TcpState parse_tcp_state(const Json& v) {
  for (auto s = static_cast<int>(TcpState::kNone); s <= static_cast<int>(TcpState::kSynSent2);
       ++s) {
    if (v.is_string() && tcp_state_name(static_cast<TcpState>(s)) == v.get<std::string>()) {
      return static_cast<TcpState>(s);
    }
  }
  throw std::invalid_argument("unknown TCP state " + v.dump() +
                              "; expected SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, "
                              "CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE or SYN_SENT2");
}

bool has_ports(std::uint8_t protocol) {
  return protocol == ipproto::kTcp || protocol == ipproto::kUdp || protocol == ipproto::kSctp ||
         protocol == ipproto::kUdplite;
}

std::string counters_text(const DirectionCounters& c) {
  return " packets=" + std::to_string(c.packets) + " bytes=" + std::to_string(c.bytes);
}

}  // namespace

std::string conntrack_protocol_name(std::uint8_t number) {
  for (const auto& p : kProtocolNames) {
    if (p.number == number) return std::string(p.name);
  }
  return "unknown";
}

FlowFilter FlowFilter::from_request(const Json& request) {
  FlowFilter filter;
  const auto it = request.find("filter");
  if (it == request.end()) return filter;
  const Json& f = *it;
  if (f.contains("protocol")) filter.protocol = parse_protocol(f["protocol"]);
  if (f.contains("source")) filter.source = parse_address(f["source"]);
  if (f.contains("destination")) filter.destination = parse_address(f["destination"]);
  if (f.contains("sport")) filter.source_port = parse_port(f["sport"]);
  if (f.contains("dport")) filter.destination_port = parse_port(f["dport"]);
  if (f.contains("state")) filter.tcp_state = parse_tcp_state(f["state"]);
  if (f.contains("family")) {
    if (f["family"] == "ipv4") {
      filter.family = Family::kIPv4;
    } else if (f["family"] == "ipv6") {
      filter.family = Family::kIPv6;
    } else {
      throw std::invalid_argument("unknown family " + f["family"].dump() +
                                  "; expected ipv4 or ipv6");
    }
  }
  return filter;
}

bool FlowFilter::accepts(const Flow& flow) const {
  const Tuple& t = flow.original;
  // Like conntrack, a port or TCP state filter only ever selects flows that have one.
  const bool ports = has_ports(t.protocol);
  return (!family || t.family == *family) && (!protocol || t.protocol == *protocol) &&
         (!source || t.source == *source) && (!destination || t.destination == *destination) &&
         (!source_port || (ports && t.source_port == *source_port)) &&
         (!destination_port || (ports && t.destination_port == *destination_port)) &&
         (!tcp_state || (t.protocol == ipproto::kTcp && flow.tcp_state == *tcp_state));
}

std::string flow_line(const Flow& flow, ConntrackTime now) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(flow.expires - now).count();
  std::string name = conntrack_protocol_name(flow.original.protocol);
  if (name.size() < 8) name.append(8 - name.size(), ' ');
  std::string line = name + " " + std::to_string(flow.original.protocol) + " " +
                     std::to_string(seconds < 0 ? 0 : seconds) + " ";
  if (flow.original.protocol == ipproto::kTcp) {
    line += std::string(tcp_state_name(flow.tcp_state)) + " ";
  }
  line += tuple_text(flow.original) + counters_text(flow.counters[0]);
  if ((flow.status & ctstatus::kSeenReply) == 0) line += " [UNREPLIED]";
  line += " " + tuple_text(flow.reply) + counters_text(flow.counters[1]);
  if ((flow.status & ctstatus::kAssured) != 0) line += " [ASSURED]";
  return line + " mark=" + std::to_string(flow.mark) + " use=1";
}

}  // namespace verdictd
