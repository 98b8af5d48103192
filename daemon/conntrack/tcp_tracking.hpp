// The kernel's TCP connection tracker (nf_conntrack_proto_tcp.c, Linux 6.x):
// which flag combinations are valid, which state a segment moves a connection
// to, whether its sequence and acknowledgement numbers fit the windows seen so
// far (tcp_in_window, with nf_conntrack_tcp_be_liberal=0 and tcp_loose=1),
// when a connection becomes ASSURED and how long each state lasts.
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
  // kAccepted: the connection's new timeout. kInvalid: when not zero, the most
  // time the connection may have left (an out-of-window FIN or RST answering
  // the peer's shortens an ASSURED connection's life).
  std::chrono::seconds timeout{0};
};

// Runs the tracker on `flow` for one TCP segment (`packet`, whose header
// valid_tcp_flags accepted) travelling in `direction`: checks it against the
// windows, changes the TCP state, the windows, the tracker memory and the
// ASSURED bit. A flow just created is in TcpState::kNone. The caller sets
// SEEN_REPLY afterwards, as nf_conntrack_in does after the protocol's handler.
TcpVerdict tcp_advance(Flow& flow, Direction direction, const PacketView& packet);

// Prepares a flow learnt from the kernel (which reports its TCP state, not
// its windows) for the tracker, when a queue first sees one of its packets:
// like a connection picked up mid-stream, its windows are learnt from the
// packets to come and never make a packet INVALID.
void tcp_adopt_kernel_state(Flow& flow);

// The kernel's nf_conntrack_tcp_timeout_* defaults, per state.
std::chrono::seconds tcp_timeout(TcpState state);

}  // namespace verdictd
