#include "conntrack/tcp_tracking.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "packet/byte_order.hpp"

namespace verdictd {

namespace {

using std::chrono::seconds;

// nf_conntrack_tcp_timeout_unacknowledged and _max_retrans: the most a
// connection may live with data unacknowledged, a zero window or repeated
// retransmissions.
constexpr seconds kUnacknowledgedTimeout{300};
constexpr seconds kRetransmissionTimeout{300};
constexpr std::uint8_t kMaxRetransmissions = 3;  // nf_conntrack_tcp_max_retrans

// The kernel's IP_CT_TCP_FLAG_* (TcpWindow::flags) and the last segment's
// flags (TcpLastSegment::flags), same values.
namespace windowflag {
constexpr std::uint8_t kWindowScale = 0x01;  // the direction sent a window scale option
constexpr std::uint8_t kSackPermitted = 0x02;
constexpr std::uint8_t kCloseInit = 0x04;  // the direction sent the first FIN
constexpr std::uint8_t kLiberal = 0x08;    // its window problems never make a packet INVALID
constexpr std::uint8_t kDataUnacknowledged = 0x10;
constexpr std::uint8_t kMaxAckSet = 0x20;  // TcpWindow::max_ack holds an ACK
// A SYN was ignored in LAST_ACK, so the peer may answer with an RFC 5961
// challenge ACK that must not count as the last ACK.
constexpr std::uint8_t kChallengeAckExpected = 0x40;
constexpr std::uint8_t kSimultaneousOpen = 0x80;  // SYN seen in both directions
}  // namespace windowflag

// The largest window scale RFC 7323 allows (TCP_MAX_WSCALE).
constexpr std::uint8_t kMaxWindowScale = 14;
// The least slack below the receiver's end an ACK may lag (MAXACKWINCONST).
constexpr std::uint32_t kMinAckWindow = 66000;

// Sequence number order, modulo 2^32.
bool before(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
bool after(std::uint32_t a, std::uint32_t b) { return before(b, a); }

std::size_t index_of(Direction direction) { return static_cast<std::size_t>(direction); }
Direction opposite(Direction direction) {
  return direction == Direction::kOriginal ? Direction::kReply : Direction::kOriginal;
}

TcpSegmentKind last_kind(const Flow& flow) {
  return flow.tcp_last_index <= static_cast<std::uint8_t>(TcpSegmentKind::kNone)
             ? static_cast<TcpSegmentKind>(flow.tcp_last_index)
             : TcpSegmentKind::kNone;
}
Direction last_direction(const Flow& flow) {
  return flow.tcp_last_direction == 0 ? Direction::kOriginal : Direction::kReply;
}
void remember_last(Flow& flow, Direction direction, TcpSegmentKind kind) {
  flow.tcp_last_index = static_cast<std::uint8_t>(kind);
  flow.tcp_last_direction = static_cast<std::uint8_t>(direction);
}

bool close_initiated(const Flow& flow) {
  return ((flow.tcp_windows[0].flags | flow.tcp_windows[1].flags) & windowflag::kCloseInit) != 0;
}

// What the tracker reads of one segment.
struct TcpSegment {
  TcpSegmentKind kind = TcpSegmentKind::kNone;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint32_t end = 0;  // seq plus the payload's length, SYN and FIN counting one each
  std::uint16_t window = 0;
  std::span<const std::uint8_t> options;

  [[nodiscard]] bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
};

std::optional<TcpSegment> read_segment(const PacketView& packet) {
  const std::size_t at = packet.transport_offset;
  if (!packet.has_tcp || packet.bytes.size() < at + kTcpHeader) return std::nullopt;
  const std::size_t header = static_cast<std::size_t>(packet.bytes[at + 12] >> 4) * 4;
  if (header < kTcpHeader || packet.bytes.size() < at + header) return std::nullopt;
  TcpSegment segment{
      .kind = tcp_segment_kind(packet.tcp_flags),
      .flags = packet.tcp_flags,
      .seq = read32(packet.bytes, at + 4),
      .ack = read32(packet.bytes, at + 8),
      .window = packet.tcp_window,
      .options = packet.bytes.subspan(at + kTcpHeader, header - kTcpHeader),
  };
  // The payload's length from the IP header, as the kernel's skb->len: a
  // capture cut short still counts its whole payload.
  const std::size_t headers = at + header;
  const std::size_t payload = packet.length > headers ? packet.length - headers : 0;
  segment.end = segment.seq + static_cast<std::uint32_t>(payload) +
                (segment.has(tcpflag::kSyn) ? 1U : 0U) + (segment.has(tcpflag::kFin) ? 1U : 0U);
  return segment;
}

// Walks the TCP options as the kernel's tcp_options and tcp_sack do, calling
// `visit(kind, body)` for each option with a length; stops at the end-of-list
// option, at a malformed length, or when `visit` returns false.
template <typename Visit>
void for_each_option(std::span<const std::uint8_t> options, Visit visit) {
  constexpr std::uint8_t kEndOfList = 0;
  constexpr std::uint8_t kNoOperation = 1;
  while (!options.empty()) {
    const std::uint8_t kind = options[0];
    if (kind == kEndOfList) return;
    if (kind == kNoOperation) {
      options = options.subspan(1);
      continue;
    }
    if (options.size() < 2) return;
    const std::size_t size = options[1];
    if (size < 2 || size > options.size()) return;
    if (!visit(kind, options.subspan(2, size - 2))) return;
    options = options.subspan(size);
  }
}

constexpr std::uint8_t kOptionWindowScale = 3;
constexpr std::uint8_t kOptionSackPermitted = 4;
constexpr std::uint8_t kOptionSack = 5;

// tcp_options: the window scale and SACK-permitted options of a SYN. A SYN
// without options leaves what the direction had.
void read_window_options(const TcpSegment& segment, TcpWindow& window) {
  if (segment.options.empty()) return;
  window.scale = 0;
  window.flags &= windowflag::kLiberal;
  for_each_option(segment.options,
                  [&window](std::uint8_t kind, std::span<const std::uint8_t> body) {
                    if (kind == kOptionSackPermitted && body.empty()) {
                      window.flags |= windowflag::kSackPermitted;
                    } else if (kind == kOptionWindowScale && body.size() == 1) {
                      window.scale = std::min(body[0], kMaxWindowScale);
                      window.flags |= windowflag::kWindowScale;
                    }
                    return true;
                  });
}

// tcp_sack: the highest right edge of the first SACK option's blocks, if
// beyond `sack`.
std::uint32_t highest_sack(const TcpSegment& segment, std::uint32_t sack) {
  constexpr std::size_t kBlock = 8;
  for_each_option(segment.options, [&sack](std::uint8_t kind, std::span<const std::uint8_t> body) {
    if (kind != kOptionSack || body.empty() || body.size() % kBlock != 0) return true;
    for (std::size_t block = 0; block < body.size(); block += kBlock) {
      const std::uint32_t right_edge = read32(body, block + 4);
      if (after(right_edge, sack)) sack = right_edge;
    }
    return false;
  });
  return sack;
}

// tcp_init_sender: a SYN or SYN/ACK starts its direction's window; window
// scaling holds only when both directions offered it.
void start_window(Flow& flow, Direction direction, const TcpSegment& segment) {
  TcpWindow& sender = flow.tcp_windows[index_of(direction)];
  TcpWindow& receiver = flow.tcp_windows[index_of(opposite(direction))];
  sender.end = segment.end;
  sender.max_end = segment.end;
  sender.max_window = std::max<std::uint32_t>(segment.window, 1);
  read_window_options(segment, sender);
  if (direction == Direction::kReply &&
      ((sender.flags & receiver.flags & windowflag::kWindowScale) == 0)) {
    sender.scale = 0;
    receiver.scale = 0;
  }
}

// tcp_new: a connection's first segment. A SYN starts the original
// direction's window; anything else (an ACK: the state table refuses the
// rest) is a connection picked up mid-stream, whose history is lost: both
// directions assume SACK and never call a packet INVALID for its window.
void start_tracking(Flow& flow, const TcpSegment& segment) {
  flow.tcp_windows = {};
  flow.tcp_last = {};
  remember_last(flow, Direction::kOriginal, TcpSegmentKind::kNone);
  TcpWindow& original = flow.tcp_windows[0];
  original.end = segment.end;
  original.max_window = std::max<std::uint32_t>(segment.window, 1);
  if (segment.kind == TcpSegmentKind::kSyn) {
    original.max_end = original.end;
    read_window_options(segment, original);
    return;
  }
  original.max_end = original.end + original.max_window;
  for (TcpWindow& window : flow.tcp_windows) {
    window.flags = windowflag::kSackPermitted | windowflag::kLiberal;
  }
}

enum class WindowVerdict : std::uint8_t { kAccept, kIgnore, kInvalid };

// nf_tcp_log_invalid: a direction treated liberally has every segment accepted.
WindowVerdict unless_liberal(const TcpWindow& sender, WindowVerdict verdict) {
  return (sender.flags & windowflag::kLiberal) != 0 ? WindowVerdict::kAccept : verdict;
}

// The most an acknowledgement may lag behind the receiver's end (MAXACKWINDOW).
std::uint32_t ack_window(const TcpWindow& sender) {
  return std::max(sender.max_window, kMinAckWindow);
}

// tcp_in_window: whether the segment's sequence numbers fit what the sender
// may send (I: not beyond the receiver's window; II: not all below what the
// receiver may still need) and its acknowledgement what the receiver sent
// (III: not beyond it; IV: not too far behind), then the windows updated.
// Data beyond the window or an ACK of data never sent is INVALID; an old
// retransmission or a much delayed ACK is ignored.
WindowVerdict check_window(Flow& flow, Direction direction, const TcpSegment& segment) {
  TcpWindow& sender = flow.tcp_windows[index_of(direction)];
  TcpWindow& receiver = flow.tcp_windows[index_of(opposite(direction))];
  std::uint32_t seq = segment.seq;
  std::uint32_t ack = segment.ack;
  std::uint32_t sack =
      (receiver.flags & windowflag::kSackPermitted) != 0 ? highest_sack(segment, ack) : ack;
  std::uint32_t end = segment.end;
  std::uint32_t window = segment.window;
  const bool syn = segment.has(tcpflag::kSyn);
  const bool has_ack = segment.has(tcpflag::kAck);
  const bool rst = segment.has(tcpflag::kRst);

  if (sender.max_window == 0) {
    if (syn) {
      start_window(flow, direction, segment);
      if (!has_ack) return WindowVerdict::kAccept;  // simultaneous open
    } else {
      // Mid-stream: learn the sender from this segment; until the receiver
      // is seen, take its end from the acknowledgement so III and IV pass.
      sender.end = end;
      sender.max_window = std::max<std::uint32_t>(window << sender.scale, 1);
      sender.max_end = end + sender.max_window;
      if (receiver.max_window == 0) {
        receiver.end = sack;
        receiver.max_end = sack;
      } else if (sack == receiver.end + 1) {
        ++receiver.end;  // likely the answer to a keepalive
      }
    }
  } else if (syn && after(end, sender.end) &&
             (flow.tcp_state == TcpState::kSynSent || flow.tcp_state == TcpState::kSynRecv)) {
    // A reinitialised TCP may start again with higher sequence numbers.
    start_window(flow, direction, segment);
    if (direction == Direction::kReply && !has_ack) return WindowVerdict::kAccept;
  }

  // No ACK, or a RST with ACK set and 0 acknowledged: as if acknowledging the
  // receiver's end.
  if (!has_ack || (rst && ack == 0)) {
    ack = receiver.end;
    sack = receiver.end;
  }
  // A RST answering a SYN.
  if (rst && seq == 0 && flow.tcp_state == TcpState::kSynSent) {
    seq = sender.end;
    end = sender.end;
  }

  const bool ack_not_too_old = after(sack, receiver.end - ack_window(sender) - 1);
  const bool ack_not_beyond = before(sack, receiver.end + 1);
  if (!before(seq, sender.max_end + 1)) {
    const std::uint32_t overshoot = end - sender.max_end + 1;
    const bool end_in_window =
        receiver.max_window != 0 && after(end, sender.end - receiver.max_window - 1);
    if (end_in_window && ack_not_too_old && overshoot <= receiver.max_window && ack_not_beyond) {
      // A TCP sending a little more than the window allows: should the
      // receiver acknowledge it, that ACK must not be over the upper bound.
      sender.end = end;
      sender.flags |= windowflag::kDataUnacknowledged;
      return unless_liberal(sender, WindowVerdict::kIgnore);
    }
    return unless_liberal(sender, WindowVerdict::kInvalid);
  }
  if (!ack_not_beyond) return unless_liberal(sender, WindowVerdict::kInvalid);
  if (receiver.max_window != 0 && !after(end, sender.end - receiver.max_window - 1)) {
    return unless_liberal(sender, WindowVerdict::kIgnore);  // retransmission of acknowledged data
  }
  if (!ack_not_too_old) return unless_liberal(sender, WindowVerdict::kIgnore);

  if (!syn) window <<= sender.scale;
  sender.max_window = std::max(sender.max_window, window + (sack - ack));
  if (after(end, sender.end)) {
    sender.end = end;
    sender.flags |= windowflag::kDataUnacknowledged;
  }
  if (has_ack) {
    if ((sender.flags & windowflag::kMaxAckSet) == 0) {
      sender.max_ack = ack;
      sender.flags |= windowflag::kMaxAckSet;
    } else if (after(ack, sender.max_ack)) {
      sender.max_ack = ack;
    }
  }
  if (receiver.max_window != 0 && after(end, sender.max_end)) {
    receiver.max_window += end - sender.max_end;
  }
  if (after(sack + window, receiver.max_end - 1)) {
    receiver.max_end = sack + window + (window == 0 ? 1 : 0);
  }
  if (ack == receiver.end) receiver.flags &= ~windowflag::kDataUnacknowledged;

  if (segment.kind == TcpSegmentKind::kAck) {
    // Retransmissions: the same ACK segment again in the same direction.
    TcpLastSegment& last = flow.tcp_last;
    if (last_direction(flow) == direction && last.seq == seq && last.ack == ack &&
        last.end == end && last.window == segment.window) {
      ++last.retransmissions;
    } else {
      flow.tcp_last_direction = static_cast<std::uint8_t>(direction);
      last.seq = seq;
      last.ack = ack;
      last.end = end;
      last.window = segment.window;
      last.retransmissions = 0;
    }
  }
  return WindowVerdict::kAccept;
}

// nf_tcp_handle_invalid: an out-of-window FIN or RST answering the peer's
// FIN or RST means the ends and the tracker disagree; an ASSURED connection
// then lives at most kUnacknowledgedTimeout. Returns that bound, or 0.
seconds note_invalid(Flow& flow, Direction direction, TcpSegmentKind kind) {
  if ((flow.status & ctstatus::kAssured) == 0 ||
      (kind != TcpSegmentKind::kRst && kind != TcpSegmentKind::kFin)) {
    return seconds{0};
  }
  const TcpSegmentKind last = last_kind(flow);
  if (last_direction(flow) != direction &&
      (last == TcpSegmentKind::kFin || last == TcpSegmentKind::kRst)) {
    return kUnacknowledgedTimeout;
  }
  remember_last(flow, direction, kind);
  return seconds{0};
}

// Notes a segment the state table ignored, so that a later answer can show
// the ends are in a connection the tracker missed.
void note_ignored(Flow& flow, Direction direction, const TcpSegment& segment, TcpState state) {
  remember_last(flow, direction, segment.kind);
  TcpLastSegment& last = flow.tcp_last;
  last.seq = segment.seq;
  last.end = segment.end;
  last.window = segment.window;
  if (segment.kind == TcpSegmentKind::kSyn && direction == Direction::kOriginal) {
    // A SYN the ends may be in sync about: keep its options for the SYN/ACK.
    TcpWindow options;
    read_window_options(segment, options);
    last.flags = options.flags & (windowflag::kWindowScale | windowflag::kSackPermitted);
    last.window_scale = (options.flags & windowflag::kWindowScale) != 0 ? options.scale : 0;
    if (state == TcpState::kLastAck) last.flags |= windowflag::kChallengeAckExpected;
  }
  if (state == TcpState::kSynSent && segment.kind == TcpSegmentKind::kAck &&
      direction == Direction::kReply) {
    last.ack = segment.ack;  // maybe a challenge ACK to the SYN
  }
}

// A SYN/ACK acknowledging the SYN ignored just before: both ends are in a
// new connection the tracker missed; its windows restart from that SYN.
bool resynchronise(Flow& flow, Direction direction, const TcpSegment& segment) {
  if (segment.kind != TcpSegmentKind::kSynAck || last_kind(flow) != TcpSegmentKind::kSyn ||
      last_direction(flow) == direction || segment.ack != flow.tcp_last.end) {
    return false;
  }
  TcpLastSegment& last = flow.tcp_last;
  last.flags &= ~windowflag::kChallengeAckExpected;
  TcpWindow& syn_sender = flow.tcp_windows[index_of(last_direction(flow))];
  syn_sender = {.end = last.end,
                .max_end = last.end,
                .max_window = std::max<std::uint32_t>(last.window, 1),
                .scale = last.window_scale,
                .flags = static_cast<std::uint8_t>(
                    last.flags & (windowflag::kWindowScale | windowflag::kSackPermitted))};
  TcpWindow& answerer = flow.tcp_windows[index_of(direction)];
  answerer = {.flags = static_cast<std::uint8_t>(answerer.flags & windowflag::kLiberal)};
  return true;
}

// nf_conntrack_tcp_established.
bool established(const Flow& flow) {
  return flow.tcp_state == TcpState::kEstablished && (flow.status & ctstatus::kAssured) != 0;
}

enum class ResetCheck : std::uint8_t { kCheckWindow, kSkipWindow, kInvalid };

// What nf_conntrack_tcp_packet makes of a RST that would close the
// connection: INVALID when its sequence number is below what the peer
// already acknowledged; in an established connection, one not exactly at
// the expected sequence number keeps the state (the end will send a
// challenge ACK); a RST answering a segment the tracker let through
// unchecked skips the window check.
ResetCheck check_reset(const Flow& flow, Direction direction, const TcpSegment& segment,
                       TcpState old_state, TcpState& new_state) {
  switch (old_state) {
    case TcpState::kFinWait:
    case TcpState::kCloseWait:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
    case TcpState::kClose:
      // Closing: the tuple may be in use again; nothing here is up to date.
      return ResetCheck::kSkipWindow;
    default:
      break;
  }
  const TcpWindow& peer = flow.tcp_windows[index_of(opposite(direction))];
  const TcpSegmentKind last = last_kind(flow);
  const TcpLastSegment& noted = flow.tcp_last;
  if ((peer.flags & windowflag::kMaxAckSet) != 0 && last != TcpSegmentKind::kSyn) {
    const std::uint32_t seq = segment.seq;
    if (seq == 0 && !established(flow)) return ResetCheck::kCheckWindow;
    if (before(seq, peer.max_ack)) return ResetCheck::kInvalid;
    if (!established(flow) || seq == peer.max_ack) return ResetCheck::kCheckWindow;
    // The end of a train of segments: data, then the RST right after it.
    if (last == TcpSegmentKind::kAck && last_direction(flow) == direction && seq == noted.end) {
      return ResetCheck::kCheckWindow;
    }
    new_state = old_state;
  }
  const bool answers_let_through =
      ((flow.status & ctstatus::kSeenReply) != 0 && last == TcpSegmentKind::kSyn) ||
      ((flow.status & ctstatus::kAssured) == 0 && last == TcpSegmentKind::kAck);
  if (answers_let_through && segment.ack == noted.end) return ResetCheck::kSkipWindow;
  // A RST answering a challenge ACK let through in SYN_SENT.
  if (old_state == TcpState::kSynSent && last == TcpSegmentKind::kAck &&
      last_direction(flow) == Direction::kReply && segment.seq == noted.ack) {
    return ResetCheck::kSkipWindow;
  }
  return ResetCheck::kCheckWindow;
}

// The timeout nf_conntrack_tcp_packet gives a connection after an accepted
// segment: the state's, shortened by retransmissions, a RST, data not yet
// acknowledged or a zero window.
seconds timeout_after(const Flow& flow, TcpState state, TcpSegmentKind kind) {
  const seconds normal = tcp_timeout(state);
  if (flow.tcp_last.retransmissions >= kMaxRetransmissions && normal > kRetransmissionTimeout) {
    return kRetransmissionTimeout;
  }
  if (kind == TcpSegmentKind::kRst) return tcp_timeout(TcpState::kClose);
  const bool unacknowledged = ((flow.tcp_windows[0].flags | flow.tcp_windows[1].flags) &
                               windowflag::kDataUnacknowledged) != 0;
  if (unacknowledged && normal > kUnacknowledgedTimeout) return kUnacknowledgedTimeout;
  if (flow.tcp_last.window == 0 && normal > kRetransmissionTimeout) return kRetransmissionTimeout;
  return normal;
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
  // As the kernel picks up a connection: SACK assumed, windows learnt from
  // the packets to come and never held against them (the window scales are
  // unknown here). Every way into the closing states passes FIN_WAIT, which
  // marks the side that closed first.
  flow.tcp_windows = {};
  flow.tcp_last = {};
  remember_last(flow, Direction::kOriginal, TcpSegmentKind::kNone);
  const TcpState state = flow.tcp_state;
  const bool closing = state == TcpState::kFinWait || state == TcpState::kCloseWait ||
                       state == TcpState::kLastAck || state == TcpState::kTimeWait;
  for (TcpWindow& window : flow.tcp_windows) {
    window.flags = windowflag::kSackPermitted | windowflag::kLiberal;
  }
  if (closing) flow.tcp_windows[0].flags |= windowflag::kCloseInit;
}

TcpVerdict tcp_advance(Flow& flow, Direction direction, const PacketView& packet) {
  const auto segment = read_segment(packet);
  if (!segment) return {.outcome = TcpOutcome::kInvalid};
  const TcpSegmentKind kind = segment->kind;
  TcpState old_state = flow.tcp_state;
  std::uint8_t next = kTransitions[index_of(direction)][static_cast<std::size_t>(kind)]
                                  [static_cast<std::size_t>(old_state)];
  if (next == kInvalidSegment) return {.outcome = TcpOutcome::kInvalid};
  if (old_state == TcpState::kNone) start_tracking(flow, *segment);

  if (next == sSS && old_state >= TcpState::kTimeWait) {
    // A SYN on a closed connection: a new connection when the old one was
    // closed with FINs, or reset by this same side; otherwise ignored.
    if (close_initiated(flow) ||
        (last_direction(flow) == direction && last_kind(flow) == TcpSegmentKind::kRst)) {
      return {.outcome = TcpOutcome::kReopened};
    }
    next = kIgnoredSegment;
  }

  TcpState new_state = TcpState::kNone;
  bool window_checked = true;
  if (next == kIgnoredSegment) {
    if (!resynchronise(flow, direction, *segment)) {
      note_ignored(flow, direction, *segment, old_state);
      return {.outcome = TcpOutcome::kIgnored};
    }
    old_state = TcpState::kSynSent;
    new_state = TcpState::kSynRecv;
  } else {
    new_state = static_cast<TcpState>(next);
    TcpLastSegment& last = flow.tcp_last;
    switch (new_state) {
      case TcpState::kTimeWait:
        if (old_state == TcpState::kLastAck && kind == TcpSegmentKind::kAck &&
            last_direction(flow) != direction && last_kind(flow) == TcpSegmentKind::kSyn &&
            (last.flags & windowflag::kChallengeAckExpected) != 0) {
          // The RFC 5961 challenge ACK to that SYN, not the last ACK.
          last.flags &= ~windowflag::kChallengeAckExpected;
          return {.outcome = TcpOutcome::kIgnored};
        }
        break;
      case TcpState::kSynSent2:
        last.flags |= windowflag::kSimultaneousOpen;
        break;
      case TcpState::kSynRecv:
        if (direction == Direction::kReply && kind == TcpSegmentKind::kAck &&
            (last.flags & windowflag::kSimultaneousOpen) != 0) {
          new_state = TcpState::kEstablished;
        }
        break;
      case TcpState::kClose:
        if (kind != TcpSegmentKind::kRst) break;
        switch (check_reset(flow, direction, *segment, old_state, new_state)) {
          case ResetCheck::kInvalid:
            return {.outcome = TcpOutcome::kInvalid};
          case ResetCheck::kSkipWindow:
            window_checked = false;
            break;
          case ResetCheck::kCheckWindow:
            break;
        }
        break;
      default:
        break;
    }
  }

  if (window_checked) {
    switch (check_window(flow, direction, *segment)) {
      case WindowVerdict::kIgnore:
        return {.outcome = TcpOutcome::kIgnored};
      case WindowVerdict::kInvalid:
        return {.outcome = TcpOutcome::kInvalid, .timeout = note_invalid(flow, direction, kind)};
      case WindowVerdict::kAccept:
        break;
    }
  }

  remember_last(flow, direction, kind);
  flow.tcp_state = new_state;
  if (old_state != new_state && new_state == TcpState::kFinWait) {
    flow.tcp_windows[index_of(direction)].flags |= windowflag::kCloseInit;
  }

  seconds timeout = timeout_after(flow, new_state, kind);
  if ((flow.status & ctstatus::kSeenReply) == 0) {
    if (kind == TcpSegmentKind::kRst) return {.outcome = TcpOutcome::kReset};
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
