// Evaluation: one hook's tables in kernel priority order, each a chain walk
// with jump, goto, RETURN and policies, counting as the kernel counts.
#pragma once

#include "extension/eval_state.hpp"
#include "packet/packet.hpp"
#include "ruleset/model.hpp"
#include "ruleset/rule_state.hpp"

namespace verdictd {

enum class Verdict : std::uint8_t { kAccept, kDrop };

// What the packet path does between the tables of a hook, where the kernel
// has its own hook functions: connection tracking after raw (at PREROUTING
// and OUTPUT; before the first table elsewhere), and NAT at the nat table's
// place, where a bound connection's packets are translated for the tables
// after it.
class ConnectionSteps {
 public:
  // True when the packet comes with its connection (a loopback packet coming
  // back in): it is recalled before the raw table instead of after it.
  [[nodiscard]] virtual bool arrives_tracked() const = 0;
  virtual void track(const PacketView& packet, EvalState& state) = 0;
  // Called at the nat table's place for every packet, after its chains ran
  // (for a first packet); returns the packet as the later tables see it.
  virtual const PacketView& translate(const PacketView& packet, EvalState& state) = 0;

 protected:
  ConnectionSteps() = default;
  ConnectionSteps(const ConnectionSteps&) = default;
  ConnectionSteps& operator=(const ConnectionSteps&) = default;
  ConnectionSteps(ConnectionSteps&&) = default;
  ConnectionSteps& operator=(ConnectionSteps&&) = default;
  ~ConnectionSteps() = default;
};

// Runs every table registered at state.hook. A DROP ends the packet; ACCEPT
// ends the current table and the next one runs. `state.mark` carries the
// packet's mark in and out; `state.ruleset_state` must be the ruleset's
// state (rule_state.hpp), where the rules count and their extensions keep
// what they keep.
Verdict evaluate_hook(const Ruleset& ruleset, const PacketView& packet, EvalState& state,
                      ConnectionSteps* steps = nullptr);

// Runs one table's built-in chain for state.hook; returns kAccept when the
// chain accepted or fell through to an ACCEPT policy.
Verdict evaluate_table(const Table& table, const PacketView& packet, EvalState& state);

}  // namespace verdictd
