#include "pipeline/simulation.hpp"

#include <algorithm>
#include <chrono>

#include "conntrack/expectations.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/tracker.hpp"
#include "conntrack/tracking_points.hpp"
#include "nat/nat_binder.hpp"
#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"
#include "packet/packet.hpp"
#include "packet/reject_reply.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "pipeline/trace_json.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kMaxFlows = 4096;  // a few connections at most
constexpr std::uint64_t kSimulationReader = 2;
// The initial sequence numbers of the two ends of a played TCP connection.
constexpr std::uint32_t kClientSequence = 1000;
constexpr std::uint32_t kServerSequence = 5000;
constexpr std::uint8_t kHopLimit = 64;
// Port unreachable: ICMP destination unreachable code 3, ICMPv6 code 4.
constexpr std::uint8_t kIcmpPortUnreachable = 3;
constexpr std::uint8_t kIcmpv6PortUnreachable = 4;
// Echo request and reply: ICMP 8 and 0, ICMPv6 128 and 129.
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr std::uint8_t kIcmpEchoReply = 0;
constexpr std::uint8_t kIcmpv6EchoRequest = 128;
constexpr std::uint8_t kIcmpv6EchoReply = 129;
// Interface indexes for the simulated interfaces (1 is loopback's).
constexpr std::uint32_t kInIfindex = 2;
constexpr std::uint32_t kOutIfindex = 3;

bool has_in_interface(Hook hook) {
  return hook == Hook::kPrerouting || hook == Hook::kInput || hook == Hook::kForward;
}

bool has_out_interface(Hook hook) {
  return hook == Hook::kForward || hook == Hook::kOutput || hook == Hook::kPostrouting;
}

// ip_forward and ip6_forward: a packet routed on loses a hop (TTL or hop
// limit) before the FORWARD hook sees it.
void lose_a_hop(std::vector<std::uint8_t>& bytes) {
  const std::span<std::uint8_t> packet(bytes);
  const PacketView view = PacketView::parse(bytes);
  if (!view.has_network || view.ttl == 0) return;
  if (view.family == Family::kIPv6) {
    --packet[7];
    return;
  }
  const auto before = static_cast<std::uint16_t>(packet[8] << 8 | packet[9]);
  --packet[8];
  const auto after = static_cast<std::uint16_t>(packet[8] << 8 | packet[9]);
  write16(packet, 10, checksum::update16(read16(packet, 10), before, after));
}

// The description of the packet the other end sends back to `packet`:
// addresses and ports swapped, an echo request answered by an echo reply.
PacketDescription answer_to(const PacketView& packet) {
  PacketDescription answer{.source = packet.destination,
                           .destination = packet.source,
                           .protocol = packet.protocol,
                           .source_port = packet.destination_port,
                           .destination_port = packet.source_port,
                           .icmp_type = packet.icmp_type,
                           .icmp_code = packet.icmp_code};
  // The echo identifier, the ICMP "port" that NAT may have changed.
  if (packet.has_icmp) answer.icmp_identifier = read16(packet.bytes, packet.transport_offset + 4);
  if (packet.has_icmp && packet.icmp_type == kIcmpEchoRequest && packet.family == Family::kIPv4) {
    answer.icmp_type = kIcmpEchoReply;
  }
  if (packet.has_icmp && packet.icmp_type == kIcmpv6EchoRequest) {
    answer.icmp_type = kIcmpv6EchoReply;
  }
  return answer;
}

// The interface address given for a NAT target, if it is of the
// destination's family; otherwise none, and a note of what was missing.
std::optional<IpAddress> address_for(const std::optional<IpAddress>& address,
                                     const IpAddress& destination, std::string_view asker,
                                     std::string_view option, std::vector<std::string>& notes) {
  if (address && address->family == destination.family) return address;
  const std::string note = std::string(asker) + " needs the interface's " +
                           (destination.family == Family::kIPv4 ? "IPv4" : "IPv6") +
                           " address: give " + std::string(option);
  if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
  return std::nullopt;
}

// The SimulatedState a tracker's classification stands for.
SimulatedState simulated_state(const PacketConntrack& connection) {
  if (connection.notrack) return SimulatedState::kUntracked;
  switch (connection.state) {
    case CtState::kNew:
      return SimulatedState::kNew;
    case CtState::kEstablished:
      return SimulatedState::kEstablished;
    case CtState::kRelated:
      return SimulatedState::kRelated;
    case CtState::kUntracked:
      return SimulatedState::kUntracked;
    case CtState::kInvalid:
      break;
  }
  return SimulatedState::kInvalid;
}

std::string_view state_name(SimulatedState state) {
  switch (state) {
    case SimulatedState::kNew:
      return "NEW";
    case SimulatedState::kEstablished:
      return "ESTABLISHED";
    case SimulatedState::kRelated:
      return "RELATED";
    case SimulatedState::kInvalid:
      return "INVALID";
    case SimulatedState::kUntracked:
      return "UNTRACKED";
    case SimulatedState::kAsTracked:
      break;
  }
  return "as tracked";
}

// One simulated host: the ruleset with fresh counters, and a flow table,
// tracker and NAT binder of its own.
class Simulator {
 public:
  Simulator(const Ruleset& ruleset, const Simulation& simulation)
      : ruleset_(&ruleset),
        simulation_(&simulation),
        state_(ruleset),
        rules_(ruleset, state_),
        tracker_(flows_, expectations_),
        nat_(flows_, InterfaceAddresses{
                         .masquerade =
                             [this](std::uint32_t /*ifindex*/, const IpAddress& destination) {
                               return address_for(simulation_->out_address, destination,
                                                  "MASQUERADE", "--out-address", notes_);
                             },
                         .redirect =
                             [this](std::uint32_t /*ifindex*/, const IpAddress& destination) {
                               return address_for(simulation_->in_address, destination, "REDIRECT",
                                                  "--in-address", notes_);
                             }}),
        tracking_{.flows = &flows_, .tracker = &tracker_, .nat = &nat_} {}

  // What a packet's trip did: whether it went its whole way, the packet as
  // it left the last hook it crossed, and its connection at the first.
  struct Trip {
    bool accepted = true;
    std::vector<std::uint8_t> bytes;
    PacketConntrack first_connection;
  };

  // `bytes` through `hooks`, in from `in` and out to `out`; each hook's
  // trace recorded in `result` unless `result` is null.
  Trip travel(std::vector<std::uint8_t> bytes, const std::vector<Hook>& hooks,
              const std::string& in, const std::string& out, bool untracked,
              SimulationResult* result) {
    HookMask steered = 0;
    for (const Hook hook : hooks) steered |= hook_bit(hook);
    Trip trip;
    std::uint32_t mark = simulation_->mark;
    for (std::size_t i = 0; i < hooks.size(); ++i) {
      const Hook hook = hooks[i];
      if (hook == Hook::kForward && i > 0) lose_a_hop(bytes);
      HookPacket packet;
      packet.hook = hook;
      packet.packet = PacketView::parse(bytes);
      if (has_in_interface(hook)) packet.in_interface = in;
      if (has_out_interface(hook)) packet.out_interface = out;
      // A forwarded packet keeps its incoming interface's index at POSTROUTING
      // (how tracks_at tells it from the host's own).
      if (has_in_interface(hook) || hook == Hook::kPostrouting) packet.in_ifindex = ifindex(in);
      if (has_out_interface(hook)) packet.out_ifindex = ifindex(out);
      packet.mark = mark;
      packet.untracked = untracked;
      packet.steered = steered;
      packet.now = now_;
      PacketTrace trace;
      trace.readers = kSimulationReader;
      if (result != nullptr) packet.trace = &trace;
      std::vector<std::uint8_t> rewritten;
      const HookOutcome outcome = run_hook(rules_, packet, &tracking_, rewritten);
      if (result != nullptr) result->records.push_back(trace_json(trace, *ruleset_));
      if (i == 0) trip.first_connection = outcome.connection;
      if (outcome.verdict == Verdict::kDrop) {
        trip.accepted = false;
        break;
      }
      if (!outcome.translated.empty()) {
        bytes.assign(outcome.translated.begin(), outcome.translated.end());
      }
      mark = outcome.mark;
      untracked = outcome.connection.notrack;
    }
    trip.bytes = std::move(bytes);
    now_ += std::chrono::seconds(1);
    return trip;
  }

  // The packet through the tracker alone, as the connection's earlier
  // packets went: what makes the simulated packet's state.
  void play(const PacketDescription& description) {
    const std::vector<std::uint8_t> bytes = build_packet(description);
    PacketConntrack connection;
    connection.now = now_;
    tracker_.track(PacketView::parse(bytes), connection);
    now_ += std::chrono::seconds(1);
  }

  [[nodiscard]] const std::vector<std::string>& notes() const { return notes_; }

 private:
  [[nodiscard]] std::uint32_t ifindex(const std::string& name) const {
    if (name.empty()) return 0;
    if (name == "lo") return kLoopbackIfindex;
    return name == simulation_->in_interface ? kInIfindex : kOutIfindex;
  }

  const Ruleset* ruleset_;
  const Simulation* simulation_;
  std::vector<std::string> notes_;
  RulesetState state_;
  PipelineRules rules_;
  FlowTable flows_{kMaxFlows};
  Expectations expectations_;
  Tracker tracker_;
  NatBinder nat_;
  ConnectionTracking tracking_;
  ConntrackTime now_ = ConntrackTime{} + std::chrono::hours(1);
};

// The packet the simulation is about, its earlier packets played first.
std::vector<std::uint8_t> prepare(const Simulation& simulation, Simulator& host) {
  PacketDescription packet = simulation.packet;
  const bool tcp = packet.protocol == ipproto::kTcp;
  switch (simulation.state) {
    case SimulatedState::kEstablished: {
      PacketDescription first = packet;
      first.tcp_flags = tcpflag::kSyn;
      first.sequence = kClientSequence;
      first.length = 0;
      host.play(first);
      const std::vector<std::uint8_t> first_bytes = build_packet(first);
      PacketDescription answer = answer_to(PacketView::parse(first_bytes));
      answer.tcp_flags = tcpflag::kSyn | tcpflag::kAck;
      answer.sequence = kServerSequence;
      answer.acknowledgment = kClientSequence + 1;
      host.play(answer);
      if (tcp) {
        packet.sequence = kClientSequence + 1;
        packet.acknowledgment = kServerSequence + 1;
      }
      return build_packet(packet);
    }
    case SimulatedState::kRelated: {
      packet.sequence = kClientSequence;
      host.play(packet);
      const std::vector<std::uint8_t> about = build_packet(packet);
      const PacketView view = PacketView::parse(about);
      const std::uint8_t code =
          view.family == Family::kIPv4 ? kIcmpPortUnreachable : kIcmpv6PortUnreachable;
      std::vector<std::uint8_t> error;
      if (!build_unreachable(view, code, view.destination, kHopLimit, error)) {
        throw SimulationError("RELATED: no ICMP error can be about this packet");
      }
      return error;
    }
    default:
      return build_packet(packet);
  }
}

void check_state(const Ruleset& ruleset, const Simulation& simulation,
                 const PacketConntrack& connection) {
  const Family family = simulation.packet.source.family;
  if (simulation.state == SimulatedState::kAsTracked || !ruleset.tracks(family)) return;
  const SimulatedState found = simulated_state(connection);
  if (found != simulation.state) {
    throw SimulationError("the tracker makes this packet " + std::string(state_name(found)) +
                          ", not " + std::string(state_name(simulation.state)));
  }
}

SimulationResult play_connection(const Simulation& simulation, Simulator& host) {
  if (simulation.state != SimulatedState::kAsTracked) {
    throw SimulationError("--connection plays its own states: give no --ctstate");
  }
  const bool tcp = simulation.packet.protocol == ipproto::kTcp;
  SimulationResult result;
  PacketDescription opening = simulation.packet;
  opening.tcp_flags = tcpflag::kSyn;
  opening.sequence = kClientSequence;
  const Simulator::Trip first = host.travel(build_packet(opening), simulation.hooks,
                                            simulation.in_interface, simulation.out_interface,
                                            /*untracked=*/false, &result);
  if (!first.accepted) return result;
  // The other end answers the packet as it arrived there, rewritten or not.
  PacketDescription answer = answer_to(PacketView::parse(first.bytes));
  answer.tcp_flags = tcpflag::kSyn | tcpflag::kAck;
  answer.sequence = kServerSequence;
  answer.acknowledgment = kClientSequence + 1;
  const Simulator::Trip second =
      host.travel(build_packet(answer), reply_hooks(simulation.hooks), simulation.out_interface,
                  simulation.in_interface, /*untracked=*/false, &result);
  if (!second.accepted) return result;
  PacketDescription closing = simulation.packet;
  closing.tcp_flags = tcp ? tcpflag::kAck : 0;
  closing.sequence = kClientSequence + 1;
  closing.acknowledgment = kServerSequence + 1;
  const Simulator::Trip third = host.travel(build_packet(closing), simulation.hooks,
                                            simulation.in_interface, simulation.out_interface,
                                            /*untracked=*/false, &result);
  result.accepted = third.accepted;
  return result;
}

}  // namespace

std::vector<Hook> reply_hooks(const std::vector<Hook>& hooks) {
  std::vector<Hook> reply;
  for (auto hook = hooks.rbegin(); hook != hooks.rend(); ++hook) {
    switch (*hook) {
      case Hook::kPrerouting:
        reply.push_back(Hook::kPostrouting);
        break;
      case Hook::kInput:
        reply.push_back(Hook::kOutput);
        break;
      case Hook::kForward:
        reply.push_back(Hook::kForward);
        break;
      case Hook::kOutput:
        reply.push_back(Hook::kInput);
        break;
      case Hook::kPostrouting:
        reply.push_back(Hook::kPrerouting);
        break;
    }
  }
  return reply;
}

SimulationResult simulate(const Ruleset& ruleset, const Simulation& simulation) {
  if (simulation.hooks.empty()) throw SimulationError("no hook to simulate");
  Simulator host(ruleset, simulation);
  SimulationResult result;
  if (simulation.connection) {
    result = play_connection(simulation, host);
  } else {
    const Simulator::Trip trip = host.travel(
        prepare(simulation, host), simulation.hooks, simulation.in_interface,
        simulation.out_interface, simulation.state == SimulatedState::kUntracked, &result);
    check_state(ruleset, simulation, trip.first_connection);
    result.accepted = trip.accepted;
  }
  result.notes = host.notes();
  if (simulation.state != SimulatedState::kAsTracked &&
      !ruleset.tracks(simulation.packet.source.family)) {
    result.notes.emplace_back(
        "the ruleset reads no connection state of the packet's family: --ctstate changes nothing");
  }
  return result;
}

}  // namespace verdictd
