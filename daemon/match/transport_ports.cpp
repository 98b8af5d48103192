#include "match/transport_ports.hpp"

namespace verdictd {

namespace {

std::string port_text(const char* label, const PortTest& test) {
  return std::string(" ") + label + (test.range.is_single() ? ":" : "s:") +
         (test.negated ? "!" : "") + test.range.to_string();
}

// iptables-save leaves out a port test that tests nothing (0:65535).
std::string save_port(const OptionValue& option) {
  const PortTest test{std::get<PortRange>(option.value), option.negated};
  if (test.tests_nothing()) return {};
  return std::string(option.negated ? " ! " : " ") + std::string(option.spec->flag) + " " +
         test.range.to_string();
}

class PortMatch final : public Match {
 public:
  PortMatch(std::string_view name, std::size_t header_bytes, TransportPorts ports)
      : name_(name), header_bytes_(header_bytes), ports_(ports) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    return transport_header_present(packet, header_bytes_, state) && ports_.passes(packet);
  }

  void list(ListRow& row) const override { row.add_extra(std::string(name_) + ports_.list_text()); }

 private:
  std::string_view name_;
  std::size_t header_bytes_;
  TransportPorts ports_;
};

}  // namespace

TransportPorts TransportPorts::from(const OptionValues& options) {
  TransportPorts ports;
  if (const OptionValue* v = options.find("sport")) {
    ports.source = PortTest{std::get<PortRange>(v->value), v->negated};
  }
  if (const OptionValue* v = options.find("dport")) {
    ports.destination = PortTest{std::get<PortRange>(v->value), v->negated};
  }
  return ports;
}

std::string TransportPorts::list_text() const {
  std::string text;
  if (source && !source->tests_nothing()) text += port_text("spt", *source);
  if (destination && !destination->tests_nothing()) text += port_text("dpt", *destination);
  return text;
}

bool transport_header_present(const PacketView& packet, std::size_t header_bytes,
                              EvalState& state) {
  if (!packet.is_first_fragment_or_whole()) return false;
  if (!packet.has_ports || packet.transport_bytes < header_bytes) {
    state.hotdrop = true;
    return false;
  }
  return true;
}

OptionSpec source_port_option() {
  return {.key = "sport",
          .flag = "--sport",
          .aliases = "--source-port",
          .type = &value_types::port_range(),
          .negatable = true,
          .doc = "the source port is in the range",
          .save = save_port};
}

OptionSpec destination_port_option() {
  return {.key = "dport",
          .flag = "--dport",
          .aliases = "--destination-port",
          .type = &value_types::port_range(),
          .negatable = true,
          .doc = "the destination port is in the range",
          .save = save_port};
}

std::unique_ptr<Match> make_port_match(std::string_view name, std::size_t header_bytes,
                                       const OptionValues& options) {
  return std::make_unique<PortMatch>(name, header_bytes, TransportPorts::from(options));
}

}  // namespace verdictd
