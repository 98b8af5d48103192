#include "ctl/trace_text.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// A field's value as written in text: strings bare, numbers in decimal.
std::string value_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

// "10.0.0.1:22", "[2001:db8::1]:22", or the address alone without a port.
std::string endpoint(const Json& packet, const char* address, const char* port) {
  std::string host = packet.value(address, "");
  if (!packet.contains(port)) return host;
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + value_text(packet[port]);
}

std::string packet_text(const Json& packet) {
  if (!packet.contains("protocol")) return "(no IP header)";
  std::string text = value_text(packet["protocol"]) + " " + endpoint(packet, "source", "sport") +
                     " > " + endpoint(packet, "destination", "dport");
  if (packet.contains("tcp_flags")) text += " [" + value_text(packet["tcp_flags"]) + "]";
  if (packet.contains("icmp_type")) {
    text += " type " + value_text(packet["icmp_type"]) + " code " +
            value_text(packet.value("icmp_code", Json(0)));
  }
  for (const char* field : {"length", "ttl", "tos", "mark"}) {
    if (packet.contains(field)) text += std::string(" ") + field + " " + value_text(packet[field]);
  }
  return text;
}

std::string step_text(const Json& step) {
  const std::string kind = step.value("kind", "");
  std::string text = "  " + step.value("table", "");
  if (step.contains("chain")) text += " " + value_text(step["chain"]);
  if (kind == "rule") {
    text += " rule " + value_text(step["rule"]);
    if (step.contains("comment")) text += " " + Json(step["comment"]).dump();
  } else {
    text += " " + (kind == "nat" ? std::string("translated") : kind);
  }
  if (step.contains("location")) text += " " + value_text(step["location"]);
  if (step.contains("action")) text += " " + value_text(step["action"]);
  text += " -> " + step.value("outcome", "");
  if (step.contains("changes")) {
    for (const auto& [field, change] : step["changes"].items()) {
      text += ", " + field + " " + value_text(change[0]) + " -> " + value_text(change[1]);
    }
  }
  return text + "\n";
}

}  // namespace

std::string trace_text(const Json& record) {
  std::string text = record.value("hook", "") + " IN=" + record.value("in", "") +
                     " OUT=" + record.value("out", "") + " " +
                     packet_text(record.value("packet", Json::object())) + "\n";
  for (const Json& step : record.value("steps", Json::array())) text += step_text(step);
  return text + "verdict " + record.value("verdict", "") + "\n";
}

}  // namespace verdictd

namespace verdictd {

std::string drop_text(const Json& drop) {
  const Json& by = drop.value("by", Json::object());
  std::string text = drop.value("time", "") + " " + drop.value("hook", "") +
                     " IN=" + drop.value("in", "") + " OUT=" + drop.value("out", "") + " " +
                     packet_text(drop.value("packet", Json::object())) + " by";
  const std::string kind = by.value("kind", "");
  if (by.contains("table")) text += " " + value_text(by["table"]);
  if (by.contains("chain")) text += " " + value_text(by["chain"]);
  text += kind == "rule" ? " rule " + value_text(by["rule"]) : " " + kind;
  if (by.contains("comment")) text += " " + Json(by["comment"]).dump();
  if (by.contains("location")) text += " " + value_text(by["location"]);
  if (by.contains("action")) text += " " + value_text(by["action"]);
  return text + "\n";
}

}  // namespace verdictd
