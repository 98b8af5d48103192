// `verdictctl simulate`: a described packet, or a short exchange, run offline
// through a ruleset's hooks as the daemon runs them (run_hook), with a flow
// table and tracker of its own, each hook's trace recorded. The packet as
// one hook rewrote it enters the next, as in the kernel.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "packet/address.hpp"
#include "packet/hooks.hpp"
#include "packet/packet_builder.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

// The connection state the simulated packet is to have; each comes from the
// tracker, by playing what makes it, never set by hand.
enum class SimulatedState : std::uint8_t {
  kAsTracked,    // whatever the tracker says of the packet alone
  kNew,          // the first packet of a connection
  kEstablished,  // after the connection's first packet and its reply
  kRelated,      // the packet is the ICMP error its destination sends back about it
  kInvalid,      // one the tracker finds invalid (TCP: by default flags FIN,SYN)
  kUntracked,    // made UNTRACKED at an earlier hook (the raw table's NOTRACK)
};

struct Simulation {
  std::vector<Hook> hooks{};  // the packet's way through the host, in order
  std::string in_interface{};
  std::string out_interface{};
  PacketDescription packet{};
  std::uint32_t mark = 0;
  SimulatedState state = SimulatedState::kAsTracked;
  // SYN, SYN-ACK, ACK (other protocols: packet, reply, packet), the reply
  // from the other end along the reverse way.
  bool connection = false;
  // The address REDIRECT maps to (the in interface's) and MASQUERADE to
  // (the out interface's); none: those targets find none and drop, as the
  // kernel does for an interface without an address.
  std::optional<IpAddress> in_address{};
  std::optional<IpAddress> out_address{};
};

struct SimulationResult {
  std::vector<nlohmann::ordered_json> records;  // trace_json of each hook each packet crossed
  bool accepted = false;                        // every packet went its whole way
  // What the simulation lacked: an interface address MASQUERADE or REDIRECT
  // asked for and none was given (the packet was dropped for it).
  std::vector<std::string> notes;
};

// What cannot be simulated honestly (a state the tracker does not give the
// packet, for one).
class SimulationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The hooks of the reply to a packet that went `hooks`: the same way back
// (INPUT's reply leaves by OUTPUT, PREROUTING's by POSTROUTING).
std::vector<Hook> reply_hooks(const std::vector<Hook>& hooks);

SimulationResult simulate(const Ruleset& ruleset, const Simulation& simulation);

}  // namespace verdictd
