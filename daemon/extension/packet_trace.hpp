// What a traced packet met at one hook, for the TRACE target, `verdictctl
// trace` and `verdictctl simulate`. As ipt_do_table's trace_packet reports
// it (and nf_tables' nft_trace): every rule that matched, recorded before its
// target runs (so the TRACE rule that starts a trace is not in it), each
// return from a user chain by its end, and the policy that decided; here each
// step also keeps the packet as it left the step, so that mark, NAT and
// mangle changes show.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "packet/address.hpp"
#include "packet/hooks.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// The fields of a packet a trace shows, and compares from step to step.
struct PacketFacts {
  bool has_network = false;
  Family family = Family::kIPv4;
  IpAddress source;
  IpAddress destination;
  std::uint8_t protocol = 0;
  bool has_ports = false;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  bool has_tcp = false;
  std::uint8_t tcp_flags = 0;
  bool has_icmp = false;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  std::uint8_t tos = 0;
  std::uint8_t ttl = 0;
  std::uint32_t length = 0;
  std::uint32_t mark = 0;

  static PacketFacts of(const PacketView& packet, std::uint32_t mark);
  friend bool operator==(const PacketFacts&, const PacketFacts&) = default;
};

enum class TraceStepKind : std::uint8_t {
  kRule,        // a rule matched
  kReturn,      // the end of a user chain: back to the rule after the jump
  kPolicy,      // the end of a built-in chain: its policy decides
  kTranslated,  // the nat stage rewrote the packet by its connection's binding
};

// What the step did with the packet.
enum class TraceOutcome : std::uint8_t { kContinue, kAccept, kDrop, kReturn, kJump, kGoto };

struct TraceStep {
  TraceStepKind kind = TraceStepKind::kRule;
  TableId table = TableId::kFilter;
  int chain = -1;          // index into the table's chains; -1 for kTranslated
  std::uint32_t rule = 0;  // 1-based for kRule; 0 otherwise
  TraceOutcome outcome = TraceOutcome::kContinue;
  PacketFacts after;  // the packet as the step left it
};

// One packet at one hook. Whoever runs the hook sets `readers` to say who
// follows the packet (0: nobody, and nothing is recorded); a TRACE rule adds
// kTraceRuleReader.
struct PacketTrace {
  static constexpr std::uint64_t kTraceRuleReader = 1;

  std::uint64_t readers = 0;
  Hook hook = Hook::kInput;
  std::string in_interface;
  std::string out_interface;
  PacketFacts arrived;  // the packet as it entered the hook
  std::vector<TraceStep> steps;
  bool accepted = false;  // the hook's verdict

  [[nodiscard]] bool recording() const { return readers != 0; }
  void clear() {
    readers = 0;
    steps.clear();
  }
};

// A hash of what stays the same in a packet from hook to hook, whatever NAT
// and the mangle targets rewrite (not the addresses, ports, TTL, TOS, length
// or TCP options): how the daemon, which sees each hook's packets apart,
// knows a traced packet again at the next hook (the kernel's skb->nf_trace).
std::uint64_t trace_fingerprint(const PacketView& packet);

}  // namespace verdictd
