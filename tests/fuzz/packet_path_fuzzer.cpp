// The packet path in-process, as the daemon's queue workers run it
// (daemon/service/packet_path.cpp runs pipeline/hook_pipeline.hpp) without the kernel: a sequence
// of fuzzed packets, each through every hook of its way across the host (forwarded, inbound,
// outbound, loopback), parsed, tracked on one flow table, and run through every table of
// packet_path_ruleset.json (NOTRACK, MARK, CONNMARK, user chains, and every NAT target binding on a
// real NatBinder), every packet traced as `verdictctl trace` follows it (its steps, their JSON
// record, its fingerprint). Every packet a NAT step rewrites is checked (packet_checks.hpp): it
// re-parses to the translation's tuple and keeps the checksums that were right.
//
// Input: records of [way and flags][mark][length, 2 bytes][packet bytes].
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "conntrack/expectations.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/icmp_tracking.hpp"
#include "conntrack/tracker.hpp"
#include "conntrack/tracking_points.hpp"
#include "nat/nat_binder.hpp"
#include "nat/nat_translation.hpp"
#include "packet_checks.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "pipeline/trace_json.hpp"
#include "ruleset/loader.hpp"

namespace verdictd::fuzz {
namespace {

constexpr std::uint32_t kLan = 2;  // the interfaces the ruleset names
constexpr std::uint32_t kWan = 3;

std::string_view interface_name(std::uint32_t ifindex) {
  switch (ifindex) {
    case kLoopbackIfindex:
      return "lo";
    case kLan:
      return "lan0";
    case kWan:
      return "wan0";
    default:
      return "";
  }
}

// The host's addresses, as the daemon's address cache answers MASQUERADE and REDIRECT.
std::optional<IpAddress> host_address(std::uint32_t ifindex, const IpAddress& destination) {
  const bool v4 = destination.family == Family::kIPv4;
  switch (ifindex) {
    case kLan:
      return IpAddress::parse(v4 ? "10.1.0.1" : "fd01::1");
    case kWan:
      return IpAddress::parse(v4 ? "192.0.2.1" : "2001:db8::1");
    case kLoopbackIfindex:
      return IpAddress::parse(v4 ? "127.0.0.1" : "::1");
    default:
      return std::nullopt;
  }
}

struct Hop {
  Hook hook;
  std::uint32_t in = 0;
  std::uint32_t out = 0;
};

// The hooks a packet crosses on each way through the host.
std::vector<Hop> way(std::uint8_t choice) {
  switch (choice % 7) {
    case 0:
      return {
          {Hook::kPrerouting, kLan}, {Hook::kForward, kLan, kWan}, {Hook::kPostrouting, 0, kWan}};
    case 1:
      return {
          {Hook::kPrerouting, kWan}, {Hook::kForward, kWan, kLan}, {Hook::kPostrouting, 0, kLan}};
    case 2:
      return {{Hook::kPrerouting, kLan}, {Hook::kInput, kLan}};
    case 3:
      return {{Hook::kPrerouting, kWan}, {Hook::kInput, kWan}};
    case 4:
      return {{Hook::kOutput, 0, kLan}, {Hook::kPostrouting, 0, kLan}};
    case 5:
      return {{Hook::kOutput, 0, kWan}, {Hook::kPostrouting, 0, kWan}};
    default:
      return {{Hook::kOutput, 0, kLoopbackIfindex},
              {Hook::kPostrouting, 0, kLoopbackIfindex},
              {Hook::kPrerouting, kLoopbackIfindex},
              {Hook::kInput, kLoopbackIfindex}};
  }
}

const Ruleset& ruleset() {
  static const std::shared_ptr<Ruleset> loaded = load_ruleset_file(
      VERDICTD_SOURCE_DIR "/tests/fuzz/packet_path_ruleset.json", kDefaultRulesetMaxBytes);
  return *loaded;
}

// Its counters and the state of its stateful matches.
RulesetState& ruleset_state() {
  static RulesetState state(ruleset());
  return state;
}

// The ruleset and what the pipeline derives from it.
const PipelineRules& rules() {
  static const PipelineRules prepared(ruleset(), ruleset_state());
  return prepared;
}

// One flow table, tracker and NAT binder for a whole input.
struct Host {
  FlowTable flows{64};  // small, so that eviction and refusal happen too
  Expectations expectations;
  Tracker tracker{flows, expectations};
  NatBinder nat{flows, InterfaceAddresses{.masquerade = host_address, .redirect = host_address}};
  ConnectionTracking tracking{.flows = &flows, .tracker = &tracker, .nat = &nat};
};

struct Flags {
  bool checksum_partial = false;     // NFQA_SKB_CSUMNOTREADY on the first hop
  bool checksum_unverified = false;  // NFQA_SKB_CSUM_NOTVERIFIED on the first hop
  bool cut_short = false;            // the queue copied less than the packet
  bool sealed = false;               // its checksums made right first
};

// One packet along its way; stops where a hook drops it.
void run(Host& host, std::vector<std::uint8_t> packet, const std::vector<Hop>& hops,
         std::uint32_t mark, Flags flags, ConntrackTime now) {
  if (flags.sealed) seal(packet);
  bool untracked = false;  // the daemon carries it in the packet's mark
  for (const Hop& hop : hops) {
    // A cut-short copy reports a longer packet (a GSO packet's real length).
    const auto queued_length =
        static_cast<std::uint32_t>(packet.size() + (flags.cut_short ? 0x10000 : 0));
    HookPacket in;
    in.hook = hop.hook;
    in.packet = PacketView::parse(packet, queued_length);
    in.in_interface = interface_name(hop.in);
    in.out_interface = interface_name(hop.out);
    in.in_ifindex = hop.in;
    in.out_ifindex = hop.out;
    in.mark = mark;
    in.untracked = untracked;
    in.cut_short = flags.cut_short;
    in.now = now;
    in.packet.checksum = flags.checksum_partial      ? ChecksumInfo::kPartial
                         : flags.checksum_unverified ? ChecksumInfo::kUnverified
                                                     : ChecksumInfo::kVerified;
    PacketTrace trace;
    trace.readers = PacketTrace::kTraceRuleReader;
    in.trace = &trace;
    std::vector<std::uint8_t> rewritten;
    const HookOutcome outcome = run_hook(rules(), in, &host.tracking, rewritten);
    static_cast<void>(trace_json(trace, *rules().ruleset));
    static_cast<void>(trace_fingerprint(in.packet));
    if (outcome.verdict == Verdict::kDrop) return;
    untracked = outcome.connection.notrack;
    mark = outcome.mark;
    // Handed back translated, the packet is whole and fully checksummed;
    // check it against the translation its connection's binding asks for.
    if (!outcome.translated.empty()) {
      const PacketConntrack& ct = outcome.connection;
      const auto translation = nat_translation(hop.hook, ct.flow, ct.direction);
      require(translation.has_value(), "translated without a translation");
      if (in.packet.has_icmp && icmp_is_error(in.packet.family, in.packet.icmp_type)) {
        check_icmp_error_rewrite(packet, outcome.translated, translation->outer,
                                 translation->inner);
      } else {
        check_rewrite(packet, outcome.translated, translation->outer, flags.checksum_partial);
      }
      packet.assign(outcome.translated.begin(), outcome.translated.end());
    }
    flags = Flags{};
  }
}

}  // namespace
}  // namespace verdictd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace verdictd;
  using namespace std::chrono_literals;
  fuzz::Host host;
  ConntrackTime now = ConntrackTime{} + 24h;
  const std::span<const std::uint8_t> input(bytes, size);
  std::size_t at = 0;
  while (at + 4 <= input.size()) {
    const std::uint8_t choice = input[at];
    const std::uint32_t mark = input[at + 1];
    const std::size_t length = std::min<std::size_t>(
        static_cast<std::size_t>(input[at + 2] << 8 | input[at + 3]), input.size() - at - 4);
    // Each packet in a buffer of its own size, so that ASan sees any read past it.
    std::vector<std::uint8_t> packet(input.begin() + static_cast<std::ptrdiff_t>(at + 4),
                                     input.begin() + static_cast<std::ptrdiff_t>(at + 4 + length));
    at += 4 + length;
    constexpr std::array<std::chrono::seconds, 4> kPauses = {0s, 1s, 150s, 6000s};
    now += kPauses[choice >> 6];
    fuzz::run(host, std::move(packet), fuzz::way(choice & 7), mark,
              {.checksum_partial = (choice & 8) != 0,
               // The mark's top bit doubles as the flag: choice has no bit left.
               .checksum_unverified = (mark & 0x80U) != 0,
               .cut_short = (choice & 16) != 0,
               .sealed = (choice & 32) != 0},
              now);
  }
  host.flows.expire(now);
  const FlowTableStats stats = host.flows.stats();
  fuzz::require(stats.flows <= stats.max_flows, "flow table over its bound");
  return 0;
}
