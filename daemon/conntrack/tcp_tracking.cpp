#include "conntrack/tcp_tracking.hpp"

#include <array>

namespace verdictd {

namespace {

using std::chrono::seconds;

constexpr seconds kUnacknowledgedTimeout{300};

// The tracker's memory of a connection, kept in Flow::tcp_last_index: the
// kind of the last segment that moved the state machine (the kernel's
// last_index) in the low bits, and the flags the kernel keeps beside it.
struct TcpMemory {
  TcpSegmentKind last_kind = TcpSegmentKind::kNone;
  Direction last_direction = Direction::kOriginal;
  // A side entered FIN_WAIT (the kernel's IP_CT_TCP_FLAG_CLOSE_INIT in either
  // direction): a new SYN may then reopen the connection.
  bool close_initiated = false;
  // SYN seen in both directions (IP_CT_TCP_SIMULTANEOUS_OPEN).
  bool simultaneous_open = false;
  // A SYN was ignored in LAST_ACK, so the peer may answer with an RFC 5961
  // challenge ACK that must not count as the last ACK (IP_CT_EXP_CHALLENGE_ACK).
  bool challenge_ack_expected = false;
};

constexpr std::uint8_t kKindBits = 0x07;
constexpr std::uint8_t kCloseInitiatedBit = 0x10;
constexpr std::uint8_t kSimultaneousOpenBit = 0x20;
constexpr std::uint8_t kChallengeAckBit = 0x40;

TcpMemory read_memory(const Flow& flow) {
  const std::uint8_t packed = flow.tcp_last_index;
  const auto kind = static_cast<std::uint8_t>(packed & kKindBits);
  return {
      .last_kind = kind <= static_cast<std::uint8_t>(TcpSegmentKind::kNone)
                       ? static_cast<TcpSegmentKind>(kind)
                       : TcpSegmentKind::kNone,
      .last_direction = flow.tcp_last_direction == 0 ? Direction::kOriginal : Direction::kReply,
      .close_initiated = (packed & kCloseInitiatedBit) != 0,
      .simultaneous_open = (packed & kSimultaneousOpenBit) != 0,
      .challenge_ack_expected = (packed & kChallengeAckBit) != 0,
  };
}

void write_memory(Flow& flow, const TcpMemory& memory) {
  auto packed = static_cast<std::uint8_t>(memory.last_kind);
  if (memory.close_initiated) packed |= kCloseInitiatedBit;
  if (memory.simultaneous_open) packed |= kSimultaneousOpenBit;
  if (memory.challenge_ack_expected) packed |= kChallengeAckBit;
  flow.tcp_last_index = packed;
  flow.tcp_last_direction = static_cast<std::uint8_t>(memory.last_direction);
}

// The kernel's tcp_conntracks[direction][segment kind][old state]: TcpState
// values, plus two verdicts that are no state.
constexpr std::uint8_t kInvalidSegment = 10;  // sIV
constexpr std::uint8_t kIgnoredSegment = 11;  // sIG

constexpr std::uint8_t state_entry(TcpState state) { return static_cast<std::uint8_t>(state); }

// Short names, so that the table reads like the kernel's.
constexpr std::uint8_t sSS = state_entry(TcpState::kSynSent);
constexpr std::uint8_t sSR = state_entry(TcpState::kSynRecv);
constexpr std::uint8_t sES = state_entry(TcpState::kEstablished);
constexpr std::uint8_t sFW = state_entry(TcpState::kFinWait);
constexpr std::uint8_t sCW = state_entry(TcpState::kCloseWait);
constexpr std::uint8_t sLA = state_entry(TcpState::kLastAck);
constexpr std::uint8_t sTW = state_entry(TcpState::kTimeWait);
constexpr std::uint8_t sCL = state_entry(TcpState::kClose);
constexpr std::uint8_t sS2 = state_entry(TcpState::kSynSent2);
constexpr std::uint8_t sIV = kInvalidSegment;
constexpr std::uint8_t sIG = kIgnoredSegment;

// Columns: old state NONE SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT CLOSE_WAIT
// LAST_ACK TIME_WAIT CLOSE SYN_SENT2. Rows: SYN, SYN/ACK, FIN, ACK, RST, none.
constexpr std::array<std::array<std::array<std::uint8_t, 10>, 6>, 2> kTransitions{{
    {{
        // Original direction.
        {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
        {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
        {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
        {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    }},
    {{
        // Reply direction.
        {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
        {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
        {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
        {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    }},
}};

// tcp_valid_flags: the combinations of FIN, SYN, RST, ACK and URG a TCP may
// send (PSH, ECE and CWR are always allowed and masked out first).
bool valid_flag_combination(std::uint8_t flags) {
  using namespace tcpflag;
  switch (flags & ~(kPsh | kEce | kCwr)) {
    case kSyn:
    case kSyn | kUrg:
    case kSyn | kAck:
    case kRst:
    case kRst | kAck:
    case kFin | kAck:
    case kFin | kAck | kUrg:
    case kAck:
    case kAck | kUrg:
      return true;
    default:
      return false;
  }
}

}  // namespace

TcpSegmentKind tcp_segment_kind(std::uint8_t flags) {
  if ((flags & tcpflag::kRst) != 0) return TcpSegmentKind::kRst;
  if ((flags & tcpflag::kSyn) != 0) {
    return (flags & tcpflag::kAck) != 0 ? TcpSegmentKind::kSynAck : TcpSegmentKind::kSyn;
  }
  if ((flags & tcpflag::kFin) != 0) return TcpSegmentKind::kFin;
  if ((flags & tcpflag::kAck) != 0) return TcpSegmentKind::kAck;
  return TcpSegmentKind::kNone;
}

std::optional<std::uint8_t> valid_tcp_flags(const PacketView& packet) {
  if (!packet.has_tcp) return std::nullopt;
  constexpr std::size_t kMinimumHeader = 20;
  const std::size_t header =
      static_cast<std::size_t>(packet.bytes[packet.transport_offset + 12] >> 4) * 4;
  if (header < kMinimumHeader || packet.transport_bytes < header) return std::nullopt;
  if (!valid_flag_combination(packet.tcp_flags)) return std::nullopt;
  return packet.tcp_flags;
}

seconds tcp_timeout(TcpState state) {
  switch (state) {
    case TcpState::kSynSent:
    case TcpState::kSynSent2:
    case TcpState::kFinWait:
    case TcpState::kTimeWait:
      return seconds{120};
    case TcpState::kSynRecv:
    case TcpState::kCloseWait:
      return seconds{60};
    case TcpState::kEstablished:
      return seconds{5 * 24 * 3600};
    case TcpState::kLastAck:
      return seconds{30};
    case TcpState::kClose:
      return seconds{10};
    case TcpState::kNone:
      break;
  }
  // The kernel's timeouts[0] (TCP_CONNTRACK_NONE) is SYN_SENT's.
  return seconds{120};
}

void tcp_adopt_kernel_state(Flow& flow) {
  // Every way into these states passes FIN_WAIT; the kernel reports the
  // CLOSE_INIT flags only in protocol info the mirror does not carry.
  const TcpState state = flow.tcp_state;
  write_memory(flow,
               {.close_initiated = state == TcpState::kFinWait || state == TcpState::kCloseWait ||
                                   state == TcpState::kLastAck || state == TcpState::kTimeWait});
}

TcpVerdict tcp_advance(Flow& flow, Direction direction, TcpSegmentKind kind) {
  // tcp_new starts a connection with a clean memory.
  if (flow.tcp_state == TcpState::kNone) write_memory(flow, {});
  TcpMemory memory = read_memory(flow);
  TcpState old_state = flow.tcp_state;
  std::uint8_t next =
      kTransitions[static_cast<std::size_t>(direction)][static_cast<std::size_t>(kind)]
                  [static_cast<std::size_t>(old_state)];
  if (next == sSS && old_state >= TcpState::kTimeWait) {
    // A SYN on a closed connection: a new connection when the old one was
    // closed with FINs, or reset by this same side; otherwise ignored.
    if (memory.close_initiated ||
        (memory.last_direction == direction && memory.last_kind == TcpSegmentKind::kRst)) {
      return {.outcome = TcpOutcome::kReopened};
    }
    next = kIgnoredSegment;
  }
  if (next == kInvalidSegment) return {.outcome = TcpOutcome::kInvalid};

  TcpState new_state = TcpState::kNone;
  if (next == kIgnoredSegment) {
    if (kind == TcpSegmentKind::kSynAck && memory.last_kind == TcpSegmentKind::kSyn &&
        memory.last_direction != direction) {
      // A SYN/ACK answering the SYN ignored just before: both ends are in a
      // new connection the table missed; take it up from SYN_RECV. (The
      // kernel also checks the SYN/ACK acknowledges that SYN's sequence.)
      old_state = TcpState::kSynSent;
      new_state = TcpState::kSynRecv;
      memory.challenge_ack_expected = false;
    } else {
      memory.last_kind = kind;
      memory.last_direction = direction;
      if (kind == TcpSegmentKind::kSyn && direction == Direction::kOriginal) {
        memory.simultaneous_open = false;
        memory.challenge_ack_expected = old_state == TcpState::kLastAck;
      }
      write_memory(flow, memory);
      return {.outcome = TcpOutcome::kIgnored};
    }
  } else {
    new_state = static_cast<TcpState>(next);
  }
  if (new_state == TcpState::kTimeWait) {
    if (old_state == TcpState::kLastAck && kind == TcpSegmentKind::kAck &&
        memory.last_direction != direction && memory.last_kind == TcpSegmentKind::kSyn &&
        memory.challenge_ack_expected) {
      memory.challenge_ack_expected = false;
      write_memory(flow, memory);
      return {.outcome = TcpOutcome::kIgnored};
    }
  } else if (new_state == TcpState::kSynSent2) {
    memory.simultaneous_open = true;
  } else if (new_state == TcpState::kSynRecv) {
    if (direction == Direction::kReply && kind == TcpSegmentKind::kAck &&
        memory.simultaneous_open) {
      new_state = TcpState::kEstablished;
    }
  }

  memory.last_kind = kind;
  memory.last_direction = direction;
  if (old_state != new_state && new_state == TcpState::kFinWait) memory.close_initiated = true;
  flow.tcp_state = new_state;
  write_memory(flow, memory);

  const bool reset = kind == TcpSegmentKind::kRst;
  seconds timeout = reset ? tcp_timeout(TcpState::kClose) : tcp_timeout(new_state);
  if ((flow.status & ctstatus::kSeenReply) == 0) {
    if (reset) return {.outcome = TcpOutcome::kReset};
    // A retransmitted SYN does not renew the timeout, lest port reuse keep
    // the entry alive forever.
    if (kind == TcpSegmentKind::kSyn && old_state == TcpState::kSynSent) {
      return {.outcome = TcpOutcome::kUnrefreshed};
    }
    // Picked up mid-stream, not answered yet: no five-day timeout.
    if (new_state == TcpState::kEstablished && timeout > kUnacknowledgedTimeout) {
      timeout = kUnacknowledgedTimeout;
    }
  } else if ((flow.status & ctstatus::kAssured) == 0 &&
             (old_state == TcpState::kSynRecv || old_state == TcpState::kEstablished) &&
             new_state == TcpState::kEstablished) {
    flow.status |= ctstatus::kAssured;
  }
  return {.outcome = TcpOutcome::kAccepted, .timeout = timeout};
}

}  // namespace verdictd
