// The kernel's TCP connection tracker (nf_conntrack_proto_tcp.c, Linux 6.x):
// which flag combinations are valid, which state a segment moves a connection
// to, when a connection becomes ASSURED and how long each state lasts.
// Sequence and window tracking (tcp_in_window) is not done: every segment is
// taken to be in window, as with nf_conntrack_tcp_be_liberal.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "conntrack/flow.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// What a segment is to the state table (the kernel's tcp_bit_set), from its
// flags: RST first, then SYN (with or without ACK), FIN, ACK, nothing.
enum class TcpSegmentKind : std::uint8_t { kSyn, kSynAck, kFin, kAck, kRst, kNone };
TcpSegmentKind tcp_segment_kind(std::uint8_t flags);

// The flags of the packet's TCP header, or nullopt when the kernel's
// tcp_error calls the packet INVALID: a header cut short, a data offset below
// 5 or beyond the packet, or a flag combination no TCP sends.
std::optional<std::uint8_t> valid_tcp_flags(const PacketView& packet);

// What became of a segment the state machine saw.
enum class TcpOutcome : std::uint8_t {
  kAccepted,     // the state advanced (or stayed); refresh the timeout
  kIgnored,      // accepted, but the connection is left as it was
  kInvalid,      // the packet is INVALID; the connection is left as it was
  kReopened,     // a SYN reopens a closed connection: forget it, track a new one
  kReset,        // a RST was the only answer: the connection dies with this packet
  kUnrefreshed,  // a retransmitted SYN: accepted, the timeout is not renewed
};

struct TcpVerdict {
  TcpOutcome outcome = TcpOutcome::kInvalid;
  std::chrono::seconds timeout{0};  // for kAccepted
};

// Runs the state machine on `flow` for one segment of `kind` travelling in
// `direction`: changes its TCP state, its tracker memory and the ASSURED bit.
// A flow just created is in TcpState::kNone. The caller sets SEEN_REPLY
// afterwards, as nf_conntrack_in does after the protocol's handler.
TcpVerdict tcp_advance(Flow& flow, Direction direction, TcpSegmentKind kind);

// Prepares a flow learnt from the kernel (which reports only its TCP state)
// for the state machine, when a queue first sees one of its packets.
void tcp_adopt_kernel_state(Flow& flow);

// The kernel's nf_conntrack_tcp_timeout_* defaults, per state.
std::chrono::seconds tcp_timeout(TcpState state);

}  // namespace verdictd
