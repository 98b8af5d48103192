// One tracked connection, as the flow table stores it and as the packet path
// sees it: both tuples, the kernel's status bits, the TCP state, the
// connection mark, counters per direction and when it expires.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "conntrack/tuple.hpp"

namespace verdictd {

using ConntrackClock = std::chrono::steady_clock;
using ConntrackTime = ConntrackClock::time_point;

// The state a rule sees (xt_conntrack's ctstate, without the virtual
// SNAT/DNAT states, which come from the status bits).
enum class CtState : std::uint8_t { kInvalid, kNew, kEstablished, kRelated, kUntracked };
std::string_view ct_state_name(CtState state);  // "ESTABLISHED"

enum class Direction : std::uint8_t { kOriginal, kReply };

// A conntrack helper's name ("ftp"), NUL-padded: the kernel's helper names
// have at most NF_CT_HELPER_NAME_LEN (16) bytes with the NUL.
using HelperName = std::array<char, 16>;

// The kernel's IPS_* status bits, same values, so ctnetlink's can be copied.
namespace ctstatus {
inline constexpr std::uint32_t kExpected = 1U << 0;
inline constexpr std::uint32_t kSeenReply = 1U << 1;
inline constexpr std::uint32_t kAssured = 1U << 2;
inline constexpr std::uint32_t kConfirmed = 1U << 3;
inline constexpr std::uint32_t kSrcNat = 1U << 4;
inline constexpr std::uint32_t kDstNat = 1U << 5;
// Killed by the packet just tracked (an RST): kept a little so the later hooks
// still see that packet's state; the next packet with its tuple starts anew.
inline constexpr std::uint32_t kDying = 1U << 9;
// What the tracker decides for a flow whose packets a queue sees: the
// kernel's bits are not taken for such a flow (its own may lag, or be ahead).
// The rest (CONFIRMED, EXPECTED from a helper, NAT, the kernel's own) is.
inline constexpr std::uint32_t kDecidedHere = kSeenReply | kAssured | kDying;
// What a NAT binding sets; the kernel's entry of a connection we translate
// never has them (the kernel sees it untranslated).
inline constexpr std::uint32_t kNat = kSrcNat | kDstNat;
}  // namespace ctstatus

// The two kinds of NAT manipulation (the kernel's nf_nat_manip_type), as bits
// of Flow::nat_done.
namespace natmanip {
inline constexpr std::uint8_t kSource = 1U << 0;       // SNAT, at POSTROUTING and INPUT
inline constexpr std::uint8_t kDestination = 1U << 1;  // DNAT, at PREROUTING and OUTPUT
inline constexpr std::uint8_t kBoth = kSource | kDestination;
}  // namespace natmanip

// Flow::binding_slot of a flow whose binding is in no slot of the binding store.
inline constexpr std::uint32_t kNoBindingSlot = 0xffffffff;

// The kernel's enum tcp_conntrack, same values (ctnetlink carries them).
enum class TcpState : std::uint8_t {
  kNone,
  kSynSent,
  kSynRecv,
  kEstablished,
  kFinWait,
  kCloseWait,
  kLastAck,
  kTimeWait,
  kClose,
  kSynSent2,
};
std::string_view tcp_state_name(TcpState state);  // "SYN_SENT", as conntrack -L prints

struct DirectionCounters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// One direction of a TCP connection as the tracker follows its sequence
// numbers (the kernel's struct ip_ct_tcp_state).
struct TcpWindow {
  std::uint32_t end = 0;         // td_end: highest sequence number sent, plus its length
  std::uint32_t max_end = 0;     // td_maxend: the highest the peer's window lets it reach
  std::uint32_t max_window = 0;  // td_maxwin: the largest window offered; 0: never seen
  std::uint32_t max_ack = 0;     // td_maxack: the highest acknowledgement it sent
  std::uint8_t scale = 0;        // td_scale: its window scale
  std::uint8_t flags = 0;        // the kernel's IP_CT_TCP_FLAG_* bits for this direction
};

// The last segment the TCP tracker took note of (the kernel's last_seq,
// last_ack, last_end, last_win, last_wscale, last_flags and retrans).
struct TcpLastSegment {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint32_t end = 0;
  std::uint16_t window = 0;  // as sent, unscaled
  std::uint8_t window_scale = 0;
  std::uint8_t flags = 0;  // IP_CT_TCP_FLAG_*, IP_CT_EXP_CHALLENGE_ACK, ..._SIMULTANEOUS_OPEN
  std::uint8_t retransmissions = 0;  // the same ACK seen again this many times
};

// What the kernel's conntrack last said about a flow a queue observes, and
// whether that has disagreed with ours (conntrack/divergence.hpp).
struct KernelView {
  TcpState tcp_state = TcpState::kNone;  // kNone until a message carried it
  std::uint32_t status = 0;              // its SEEN_REPLY and ASSURED bits
  // Set while the kernel disagrees: past it, the disagreement is lasting.
  std::optional<ConntrackTime> deadline;
  bool counted = false;  // counted once already: not watched any more
};

// What a lookup by the original tuple reads (that tuple, the status and the
// expiry) comes first: with FlowNode's lock it fills the node's first cache
// line (checked by a unit test); the reply tuple is in the second.
struct Flow {
  Tuple original;
  std::uint32_t status = 0;  // ctstatus bits
  ConntrackTime expires{};
  Tuple reply;
  std::uint32_t mark = 0;  // the connection mark (CONNMARK, connmark)
  TcpState tcp_state = TcpState::kNone;
  // The TCP tracker's memory: the direction and kind (TcpSegmentKind) of the
  // last segment that counted (the kernel's last_dir, last_index), that
  // segment, and each direction's sequence window ([Direction]).
  std::uint8_t tcp_last_direction = 0;
  std::uint8_t tcp_last_index = 0;
  TcpLastSegment tcp_last{};
  std::array<TcpWindow, 2> tcp_windows{};
  // Signatures of the last packets of this flow that the tracking hook called
  // INVALID, so that later hooks see the same packet as INVALID too.
  std::array<std::uint32_t, 4> invalid_packets{};
  std::uint32_t kernel_id = 0;  // ctnetlink's id once the kernel has confirmed it, else 0
  // True once a queued packet of this flow was tracked here; false for a flow
  // known only from the kernel (a dump or event), whose TCP state and timeout
  // then follow the kernel's.
  bool observed = false;
  // Set when a CONNMARK changed `mark` and the kernel's entry does not have it yet.
  bool mark_unsynced = false;
  // NAT: the manipulations whose nat chains this connection has been through
  // (natmanip bits); the chains run only for the first packet of each.
  std::uint8_t nat_done = 0;
  // MASQUERADE's out interface, 0 for other bindings: the kernel forgets the
  // connection when that interface goes down or the mapped address goes away.
  std::uint32_t masquerade_ifindex = 0;
  // NAT: the manipulations (natmanip bits) a previous run of verdictd may have
  // bound, and whose binding is not known: set on a flow adopted from the
  // kernel, cleared by a binding restored from the store. A packet that would
  // need such a binding is dropped, never sent on untranslated.
  std::uint8_t nat_unknown = 0;
  // Where the binding store keeps this flow's binding (kNoBindingSlot: nowhere).
  std::uint32_t binding_slot = kNoBindingSlot;
  KernelView kernel_view{};
  ConntrackTime created{};
  std::array<DirectionCounters, 2> counters{};  // [Direction]
  // The helper -m helper names. For a connection a helper expected (EXPECTED
  // status) it is its master's helper, as helper_mt reads ct->master; for
  // any other, the connection's own (CTA_HELP), which the connections it
  // expects take when they are learnt from the kernel. Empty: none.
  HelperName helper{};
};

// What the packet path knows about one packet's connection while its hook's
// tables run. Matches read it; CONNMARK and NOTRACK change it.
struct PacketConntrack {
  // As xt_conntrack sees a packet without a connection (in raw, before
  // tracking, or when tracking found none): INVALID.
  CtState state = CtState::kInvalid;
  Direction direction = Direction::kOriginal;
  bool has_flow = false;
  Flow flow;  // a copy taken when the packet was classified; valid when has_flow
  // Set by NOTRACK / CT --notrack in the raw table: the packet is not tracked.
  bool notrack = false;
  // Set when a CONNMARK target changed flow.mark: the packet path writes it
  // back to the table (and the kernel's entry) after the tables ran.
  bool connmark_changed = false;
  // Set when the packet would start a connection but the flow table is full
  // and nothing could be evicted: the kernel drops such a packet.
  bool table_full = false;
  // Set when the packet came in through PREROUTING (see crossed_prerouting),
  // where the kernel's conntrack checks checksums (nf_conntrack_checksum).
  bool crossed_prerouting = false;
  ConntrackTime now{};
};

}  // namespace verdictd
