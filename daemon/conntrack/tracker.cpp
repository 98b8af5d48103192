#include "conntrack/tracker.hpp"

#include <algorithm>

#include "conntrack/divergence.hpp"
#include "conntrack/icmp_tracking.hpp"
#include "conntrack/tcp_tracking.hpp"
#include "conntrack/transport_checksum.hpp"
#include "packet/byte_order.hpp"

namespace verdictd {

namespace {

using std::chrono::seconds;

// The kernel's default timeouts (nf_conntrack_proto_{udp,icmp,icmpv6,generic}.c).
constexpr seconds kUdpUnrepliedTimeout{30};
constexpr seconds kUdpStreamTimeout{120};
// A UDP flow answered and still active this long after it began is a stream.
constexpr seconds kUdpStreamAge{2};
constexpr seconds kIcmpTimeout{30};
constexpr seconds kGenericTimeout{600};

// How long a connection killed by a packet stays for the later hooks (ctstatus::kDying).
constexpr seconds kDyingLinger{10};

// Lookups of one packet: a dead flow replaced, a lost insertion race.
constexpr int kAttempts = 3;

bool is_icmp_of_family(const PacketView& packet) {
  return (packet.family == Family::kIPv4 && packet.protocol == ipproto::kIcmp) ||
         (packet.family == Family::kIPv6 && packet.protocol == ipproto::kIcmpv6);
}

// What an ICMP message is to the kernel before any lookup (icmp_error,
// icmpv6_error).
enum class IcmpRole : std::uint8_t { kOrdinary, kError, kUntracked, kInvalid };

IcmpRole icmp_role(const PacketView& packet) {
  if (!is_icmp_of_family(packet)) return IcmpRole::kOrdinary;
  if (!packet.has_icmp) return IcmpRole::kInvalid;  // shorter than the 8-byte header
  if (icmp_is_untracked(packet.family, packet.icmp_type)) return IcmpRole::kUntracked;
  if (packet.family == Family::kIPv4 && packet.icmp_type > icmptype::kHighestKnown) {
    return IcmpRole::kInvalid;
  }
  if (icmp_is_error(packet.family, packet.icmp_type)) return IcmpRole::kError;
  return IcmpRole::kOrdinary;
}

// The protocols' own checks (tcp_error, udp_error, udplite_error): false when
// the kernel calls the packet INVALID whatever its connection.
bool transport_valid(const PacketView& packet) {
  switch (packet.protocol) {
    case ipproto::kTcp:
      return valid_tcp_flags(packet).has_value();
    case ipproto::kUdp: {
      if (packet.transport_bytes < kUdpHeader) return false;
      const std::uint16_t length = read16(packet.bytes, packet.transport_offset + 4);
      return length >= kUdpHeader && length <= packet.transport_bytes;
    }
    case ipproto::kUdplite: {
      if (packet.transport_bytes < kUdpHeader) return false;
      // The length field is the checksum coverage (0: all); the checksum is mandatory.
      const std::uint16_t coverage = read16(packet.bytes, packet.transport_offset + 4);
      const bool coverage_valid =
          coverage == 0 || (coverage >= kUdpHeader && coverage <= packet.transport_bytes);
      return coverage_valid && read16(packet.bytes, packet.transport_offset + 6) != 0;
    }
    default:
      return true;
  }
}

// Identifies one packet among its flow's recent ones: the IP length and id
// and the start of the transport header (ports, TCP sequence numbers and
// flags, checksum). Never 0, which marks an empty slot.
std::uint32_t packet_signature(const PacketView& packet) {
  constexpr std::size_t kTransportBytes = 20;
  std::uint32_t hash = 2166136261U;
  const auto add = [&hash](std::uint8_t byte) { hash = (hash ^ byte) * 16777619U; };
  add(static_cast<std::uint8_t>(packet.length >> 8));
  add(static_cast<std::uint8_t>(packet.length));
  add(static_cast<std::uint8_t>(packet.ip_id >> 8));
  add(static_cast<std::uint8_t>(packet.ip_id));
  const std::size_t end =
      packet.transport_offset + std::min(packet.transport_bytes, kTransportBytes);
  for (std::size_t at = packet.transport_offset; at < end; ++at) add(packet.bytes[at]);
  return hash == 0 ? 1 : hash;
}

void remember_invalid(Flow& flow, std::uint32_t signature) {
  std::shift_right(flow.invalid_packets.begin(), flow.invalid_packets.end(), 1);
  flow.invalid_packets[0] = signature;
}

bool was_invalid(const Flow& flow, std::uint32_t signature) {
  return std::find(flow.invalid_packets.begin(), flow.invalid_packets.end(), signature) !=
         flow.invalid_packets.end();
}

// resolve_normal_ct: a reply is ESTABLISHED; the original direction is NEW
// until the connection was answered, or RELATED if a helper expected it.
CtState state_of(const Flow& flow, Direction direction) {
  if (direction == Direction::kReply || (flow.status & ctstatus::kSeenReply) != 0) {
    return CtState::kEstablished;
  }
  return (flow.status & ctstatus::kExpected) != 0 ? CtState::kRelated : CtState::kNew;
}

void fill(PacketConntrack& ct, CtState state, const Flow& flow, Direction direction) {
  ct.state = state;
  ct.direction = direction;
  ct.has_flow = true;
  ct.flow = flow;
}

// nf_conntrack_udp_packet: 30 s until answered; answered and older than two
// seconds, a stream: 120 s and ASSURED.
seconds udp_timeout(Flow& flow, ConntrackTime now) {
  if ((flow.status & ctstatus::kSeenReply) == 0 || now <= flow.created + kUdpStreamAge) {
    return kUdpUnrepliedTimeout;
  }
  flow.status |= ctstatus::kAssured;
  return kUdpStreamTimeout;
}

enum class Update : std::uint8_t {
  kTracked,   // the packet belongs to the flow, which was advanced
  kInvalid,   // the packet is INVALID; the flow remembers it
  kReplaced,  // the flow is dead or reopened: the packet starts a new one
};

// The protocol's handler and nf_conntrack_in's bookkeeping for one packet of
// `flow` travelling in `direction`.
Update update_flow(Flow& flow, Direction direction, const PacketView& packet, bool transport_ok,
                   ConntrackTime now) {
  if ((flow.status & ctstatus::kDying) != 0) return Update::kReplaced;
  if (!flow.observed) {
    // Known from the kernel until now: carry on from the kernel's state.
    flow.observed = true;
    if (packet.protocol == ipproto::kTcp) tcp_adopt_kernel_state(flow);
  }
  if (!transport_ok) {
    remember_invalid(flow, packet_signature(packet));
    return Update::kInvalid;
  }
  std::optional<seconds> timeout;  // nullopt: neither timeout nor counters change
  bool dies = false;
  switch (packet.protocol) {
    case ipproto::kTcp: {
      const TcpVerdict verdict = tcp_advance(flow, direction, packet);
      switch (verdict.outcome) {
        case TcpOutcome::kInvalid:
          if (verdict.timeout > seconds{0}) {
            flow.expires = std::min(flow.expires, now + verdict.timeout);
          }
          remember_invalid(flow, packet_signature(packet));
          return Update::kInvalid;
        case TcpOutcome::kReopened:
          return Update::kReplaced;
        case TcpOutcome::kReset:
          dies = true;
          break;
        case TcpOutcome::kAccepted:
          timeout = verdict.timeout;
          break;
        case TcpOutcome::kIgnored:
        case TcpOutcome::kUnrefreshed:
          break;
      }
      break;
    }
    case ipproto::kUdp:
    case ipproto::kUdplite:
      timeout = udp_timeout(flow, now);
      break;
    default:
      timeout = is_icmp_of_family(packet) ? kIcmpTimeout : kGenericTimeout;
      break;
  }
  if (timeout || dies) {
    DirectionCounters& counters = flow.counters[static_cast<std::size_t>(direction)];
    ++counters.packets;
    counters.bytes += packet.length;
  }
  if (timeout) flow.expires = now + *timeout;
  if (dies) {
    flow.status |= ctstatus::kDying;
    flow.expires = now + kDyingLinger;
  }
  // nf_conntrack_in marks the answer after the protocol's handler ran.
  if (direction == Direction::kReply) flow.status |= ctstatus::kSeenReply;
  return Update::kTracked;
}

// Whether the packet may belong to a connection the kernel has and the table
// has not learnt of yet: anything but what starts a connection.
bool may_continue(const PacketView& packet) {
  if (packet.protocol == ipproto::kTcp) {
    return tcp_segment_kind(packet.tcp_flags) != TcpSegmentKind::kSyn;
  }
  if (is_icmp_of_family(packet)) return !icmp_starts_connection(packet.family, packet.icmp_type);
  return true;
}

enum class Creation : std::uint8_t { kInserted, kInvalid, kRaced };

// init_conntrack and the protocol's first-packet checks: a new flow for a
// packet no flow holds.
Creation create_flow(const PacketView& packet, const Tuple& tuple, bool transport_ok,
                     FlowTable& flows, Expectations& expectations,
                     const Tracker::AwaitEvents& await_events, PacketConntrack& ct) {
  if (!transport_ok) return Creation::kInvalid;
  if (is_icmp_of_family(packet) && !icmp_starts_connection(packet.family, packet.icmp_type)) {
    return Creation::kInvalid;
  }
  const auto reply = reply_tuple(tuple);
  if (!reply) return Creation::kInvalid;
  Flow flow{.original = tuple, .reply = *reply, .observed = true, .created = ct.now};
  auto expectation = expectations.take(tuple, ct.now);
  if (!expectation && await_events && await_events()) {
    expectation = expectations.take(tuple, ct.now);
  }
  if (expectation) {
    flow.status |= ctstatus::kExpected;
    flow.helper = expectation->helper;
  }
  const CtState state = state_of(flow, Direction::kOriginal);
  if (update_flow(flow, Direction::kOriginal, packet, true, ct.now) != Update::kTracked) {
    return Creation::kInvalid;
  }
  switch (flows.insert(flow, ct.now)) {
    case FlowTable::Insert::kInserted:
      fill(ct, state, flow, Direction::kOriginal);
      return Creation::kInserted;
    case FlowTable::Insert::kExists:
      return Creation::kRaced;
    case FlowTable::Insert::kFull:
      ct.table_full = true;
      break;
  }
  return Creation::kInvalid;
}

void reset(PacketConntrack& ct) {
  ct.table_full = false;
  ct.state = CtState::kInvalid;
  ct.direction = Direction::kOriginal;
  ct.has_flow = false;
}

// What decides a packet, the same way at every hook, before its connection
// is looked up: nothing (untracked packets, packets without the headers a
// tuple needs, bad checksums, the ICMPv6 the kernel leaves untracked), the
// connection an ICMP error quotes (nf_conntrack_inet_error: the quoted
// packet's tuple turned around, provided the error travels back to that
// packet's sender), or the packet's own connection. `verify_checksum` false
// leaves the checksum unchecked: a packet that fails it is decided the same
// way whatever its connection, so the question can skip summing it.
enum class Subject : std::uint8_t { kInvalid, kUntracked, kQuoted, kOwn };

struct PacketSubject {
  Subject kind = Subject::kInvalid;
  Tuple tuple;  // kQuoted, kOwn: the connection's tuple
};

PacketSubject subject_of(const PacketView& packet, const PacketConntrack& ct,
                         bool verify_checksum) {
  if (ct.notrack) return {.kind = Subject::kUntracked, .tuple = {}};
  if (!packet.has_network) return {};
  // The protocols test the checksum first, an ICMP message's type after it:
  // a packet that fails is INVALID, and no connection is created or advanced.
  if (verify_checksum && checksum_rejected(packet, ct.crossed_prerouting)) return {};
  switch (icmp_role(packet)) {
    case IcmpRole::kInvalid:
      return {};
    case IcmpRole::kUntracked:
      return {.kind = Subject::kUntracked, .tuple = {}};
    case IcmpRole::kError: {
      const auto quoted = quoted_tuple(packet);
      if (!quoted || quoted->source != packet.destination) return {};
      const auto inverted = reply_tuple(*quoted);
      if (!inverted) return {};
      return {.kind = Subject::kQuoted, .tuple = *inverted};
    }
    case IcmpRole::kOrdinary:
      break;
  }
  const auto tuple = packet_tuple(packet);
  if (!tuple) return {};
  return {.kind = Subject::kOwn, .tuple = *tuple};
}

// Fills `ct` for a packet its own connection does not decide and returns
// nullopt; returns the packet's tuple when its own connection decides.
std::optional<Tuple> decide_without_own_flow(const PacketView& packet, PacketConntrack& ct,
                                             const FlowTable& flows) {
  reset(ct);
  const PacketSubject subject = subject_of(packet, ct, /*verify_checksum=*/true);
  switch (subject.kind) {
    case Subject::kInvalid:
      return std::nullopt;
    case Subject::kUntracked:
      ct.state = CtState::kUntracked;
      return std::nullopt;
    case Subject::kQuoted:
      flows.find(subject.tuple, ct.now, [&ct](const Flow& flow, Direction direction) {
        fill(ct, CtState::kRelated, flow, direction);
      });
      return std::nullopt;
    case Subject::kOwn:
      break;
  }
  return subject.tuple;
}

}  // namespace

std::optional<ConnectionQuestion> Tracker::question(const PacketView& packet,
                                                    const PacketConntrack& ct) const {
  const PacketSubject subject = subject_of(packet, ct, /*verify_checksum=*/false);
  if (subject.kind != Subject::kQuoted && subject.kind != Subject::kOwn) return std::nullopt;
  // What starts a connection, or is INVALID whatever its connection, is
  // decided without the kernel: only the rest pays for the lookup.
  const bool may_be_the_kernels =
      subject.kind == Subject::kQuoted || (transport_valid(packet) && may_continue(packet));
  return ConnectionQuestion{
      .connection = subject.tuple,
      .unknown = may_be_the_kernels && !flows_->find(subject.tuple, ct.now,
                                                     [](const Flow& /*flow*/, Direction /*d*/) {})};
}

void Tracker::track(const PacketView& packet, PacketConntrack& ct) {
  const auto tuple = decide_without_own_flow(packet, ct, *flows_);
  if (!tuple) return;
  const bool transport_ok = transport_valid(packet);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    CtState state = CtState::kInvalid;
    Update update = Update::kInvalid;
    const bool found = flows_->modify(*tuple, ct.now, [&](Flow& flow, Direction direction) {
      state = state_of(flow, direction);
      // A packet after the first: the first one has left its last hook, where
      // the kernel confirms (its NEW event may still be on the way).
      flow.status |= ctstatus::kConfirmed;
      update = update_flow(flow, direction, packet, transport_ok, ct.now);
      // A kernel event may have told of this packet before the queue handed it over.
      end_divergence_caught_up(flow);
      if (update == Update::kTracked) fill(ct, state, flow, direction);
    });
    if (found) {
      if (update != Update::kReplaced) return;
      // The kernel kills the old connection and looks the packet up again.
      flows_->erase(*tuple);
    }
    switch (create_flow(packet, *tuple, transport_ok, *flows_, *expectations_, await_events_, ct)) {
      case Creation::kInserted:
      case Creation::kInvalid:
        return;
      case Creation::kRaced:
        break;
    }
  }
}

void Tracker::recall(const PacketView& packet, PacketConntrack& ct) const {
  const auto tuple = decide_without_own_flow(packet, ct, *flows_);
  if (!tuple) return;
  const std::uint32_t signature = packet_signature(packet);
  flows_->find(*tuple, ct.now, [&](const Flow& flow, Direction direction) {
    if (!was_invalid(flow, signature)) fill(ct, state_of(flow, direction), flow, direction);
  });
}

void Tracker::dropped(const PacketConntrack& ct) {
  if (!ct.has_flow || ct.state != CtState::kNew || ct.direction != Direction::kOriginal ||
      ct.flow.kernel_id != 0) {
    return;
  }
  flows_->erase_unconfirmed(ct.flow.original);
}

}  // namespace verdictd
