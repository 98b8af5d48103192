// `verdictctl conntrack`: the flow table as `conntrack -L` prints it, with
// its filters (protocol, original addresses and ports, TCP state, family).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "conntrack/flow.hpp"

namespace verdictd {

struct FlowFilter {
  std::optional<std::uint8_t> protocol;
  std::optional<IpAddress> source;  // of the original direction, as conntrack -s
  std::optional<IpAddress> destination;
  std::optional<std::uint16_t> source_port;
  std::optional<std::uint16_t> destination_port;
  std::optional<TcpState> tcp_state;  // conntrack --state
  std::optional<Family> family;

  // From the request's "filter" object; throws std::invalid_argument naming
  // the value that is wrong.
  static FlowFilter from_request(const nlohmann::ordered_json& request);
  [[nodiscard]] bool accepts(const Flow& flow) const;
};

// "tcp", "udp", "icmp", … as conntrack -L names a protocol; "unknown".
std::string conntrack_protocol_name(std::uint8_t number);

// "tcp      6 431999 ESTABLISHED src=… dst=… sport=… dport=… packets=… bytes=…
// src=… … [ASSURED] mark=0 use=1"
std::string flow_line(const Flow& flow, ConntrackTime now);

}  // namespace verdictd
