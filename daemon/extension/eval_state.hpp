// What a rule may read and change about a packet besides its bytes: the hook,
// the interfaces it came in on and goes out of, its mark and its connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "packet/hooks.hpp"
#include "packet/link_header.hpp"
#include "packet/log_line.hpp"

namespace verdictd {

struct PacketConntrack;
class FlowTable;
class NatContext;
class RulesetState;
class ExtensionState;
class SubnetBroadcasts;
struct RejectReply;
class WorkingPacket;
class RouteLookup;

// The MTU of an interface by its index (the daemon's link cache); 0 when unknown.
class InterfaceMtus {
 public:
  InterfaceMtus() = default;
  InterfaceMtus(const InterfaceMtus&) = delete;
  InterfaceMtus& operator=(const InterfaceMtus&) = delete;
  InterfaceMtus(InterfaceMtus&&) = delete;
  InterfaceMtus& operator=(InterfaceMtus&&) = delete;
  [[nodiscard]] virtual std::uint32_t mtu_of(std::uint32_t ifindex) const = 0;

 protected:
  ~InterfaceMtus() = default;
};

class LogSink;

// The rule whose target runs, as the chain walk sets it before each target.
struct RulePlace {
  TableId table = TableId::kFilter;
  std::string_view chain;
  std::uint32_t number = 0;  // 1-based within its chain
  std::string_view comment;
};

struct PacketTrace;

// What dropped a packet, for `verdictctl drops`.
struct DropCause {
  enum class Kind : std::uint8_t {
    kNone,
    kRule,       // a rule's target (DROP, REJECT, ...)
    kPolicy,     // a built-in chain's policy
    kHotdrop,    // a match could not read the header it needs (the kernel's hotdrop)
    kTableFull,  // a new connection with the flow table full
    kNat,        // its connection's binding is unknown, or it cannot be translated
  };
  Kind kind = Kind::kNone;
  TableId table = TableId::kFilter;
  int chain = -1;          // index into the table's chains, for kRule and kPolicy
  std::uint32_t rule = 0;  // 1-based, for kRule
};

struct EvalState {
  Hook hook = Hook::kInput;
  std::string_view in_interface;           // empty when the hook has none
  std::string_view out_interface;          // empty when the hook has none
  std::uint32_t in_ifindex = 0;            // 0 when the hook has none
  std::uint32_t out_ifindex = 0;           // 0 when the hook has none
  std::uint32_t mark = 0;                  // changed by MARK; sent back with the verdict
  bool first_packet_of_connection = true;  // nat chains run only when true
  // Set by a match that cannot read the transport header it needs: the
  // kernel drops such a packet on the spot ("hotdrop"), and so do we.
  bool hotdrop = false;
  // The packet's connection as tracking decided it; null when no tracking
  // runs (then conntrack matches see INVALID, as for a packet without one).
  PacketConntrack* conntrack = nullptr;
  // The flow table, for matches that count connections (connlimit); may be null.
  const FlowTable* flows = nullptr;
  // For the NAT targets; null when nothing can be translated (unit tests).
  NatContext* nat = nullptr;
  // The counters and extension state of the ruleset evaluated
  // (ruleset/rule_state.hpp); the chain walk needs it.
  RulesetState* ruleset_state = nullptr;
  // Set by the chain walk before each match and target: the state it
  // declared (extension/extension_state.hpp), null when it keeps none.
  ExtensionState* extension_state = nullptr;
  // The subnet broadcasts of the interfaces, for pkttype; null: only
  // 255.255.255.255 is an IPv4 broadcast.
  const SubnetBroadcasts* broadcasts = nullptr;
  // Where REJECT leaves the packet it answers with, for the daemon to send
  // (packet/reject_reply.hpp); null: no answer is built.
  RejectReply* reply = nullptr;
  // The packet the rules see, for the targets that rewrite it (TOS, TTL,
  // TCPMSS, ...); null when nothing can be rewritten (unit tests of matches).
  WorkingPacket* working = nullptr;
  // Interface MTUs, for TCPMSS --clamp-mss-to-pmtu; null when unknown.
  const InterfaceMtus* mtus = nullptr;
  // Where LOG hands its lines; null: LOG writes nothing (unit tests).
  LogSink* log_sink = nullptr;
  RulePlace rule;
  // Who follows the packet (extension/packet_trace.hpp); null: nobody can.
  PacketTrace* trace = nullptr;
  DropCause dropped_by;  // set when a stage drops the packet
  // The owner of the local socket the packet belongs to, when it has one.
  std::optional<SocketOwner> socket_owner;
  // What is known of the link-layer header the packet came in with, for LOG.
  ReceivedLink link;
  // The kernel's routes, for addrtype and rpfilter; null: no route is known.
  const RouteLookup* routes = nullptr;
};

}  // namespace verdictd
