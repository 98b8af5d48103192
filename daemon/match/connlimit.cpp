// -m connlimit: how many connections the packet's source (or destination)
// network has open, above or up to a limit. As xt_connlimit with
// nf_conncount, each rule remembers the connections it has seen per masked
// address, and forgets those that are gone or closed when it looks again.
#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <vector>

#include "conntrack/flow.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/tuple.hpp"
#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/prefix_mask.hpp"

namespace verdictd {

namespace {

// Every this many packets the rule also forgets finished connections of
// addresses that have sent nothing since (the kernel's garbage collector).
constexpr std::uint32_t kSweepInterval = 1024;

// A counted connection is gone when the flow table no longer has it, and
// closed when it is TCP in TIME_WAIT or CLOSE.
bool still_open(const Tuple& tuple, const FlowTable* flows, ConntrackTime now) {
  if (flows == nullptr) return true;
  bool open = false;
  flows->find(tuple, now, [&open](const Flow& flow, Direction /*direction*/) {
    const TcpState tcp = flow.tcp_state;
    open = flow.original.protocol != ipproto::kTcp ||
           (tcp != TcpState::kTimeWait && tcp != TcpState::kClose);
  });
  return open;
}

struct ConnlimitKey {
  IpAddress address;
  std::uint16_t zone = 0;
  // clang-tidy 14 mistakes the defaulted comparison for a literal 0.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const ConnlimitKey&, const ConnlimitKey&) = default;
};

// The connections one rule has seen, per masked address (nf_conncount's
// tree), by their original tuples.
class ConnlimitState final : public ExtensionState {
 public:
  // How many connections `key` has open, `tuple`'s included.
  std::size_t count(const ConnlimitKey& key, const Tuple& tuple, const FlowTable* flows,
                    ConntrackTime now) {
    const std::lock_guard lock(mutex_);
    std::vector<Tuple>& members = connections_[key];
    bool present = false;
    std::erase_if(members, [&](const Tuple& member) {
      if (member == tuple) {
        present = true;
        return false;
      }
      return !still_open(member, flows, now);
    });
    if (!present) members.push_back(tuple);
    const std::size_t counted = members.size();
    if (++evaluations_ % kSweepInterval == 0) sweep(flows, now);
    return counted;
  }

 private:
  void sweep(const FlowTable* flows, ConntrackTime now) {
    for (auto entry = connections_.begin(); entry != connections_.end();) {
      std::erase_if(entry->second,
                    [&](const Tuple& member) { return !still_open(member, flows, now); });
      entry = entry->second.empty() ? connections_.erase(entry) : std::next(entry);
    }
  }

  std::mutex mutex_;  // Lock order: daemon/LOCKING.md.
  std::map<ConnlimitKey, std::vector<Tuple>> connections_;
  std::uint32_t evaluations_ = 0;
};

class ConnlimitMatch final : public Match {
 public:
  ConnlimitMatch(std::uint32_t limit, bool above, std::optional<int> mask, bool by_destination)
      : limit_(limit), above_(above), mask_(mask), by_destination_(by_destination) {}

  [[nodiscard]] std::unique_ptr<ExtensionState> make_state() const override {
    return std::make_unique<ConnlimitState>();
  }

  // The packet's connection counts itself; a packet without one counts its
  // own tuple until the next look finds no flow for it. A packet whose tuple
  // cannot be read is dropped, as the kernel does.
  bool matches(const PacketView& packet, EvalState& state) const override {
    const PacketConntrack* ct = state.conntrack;
    std::optional<Tuple> tuple;
    if (ct != nullptr && ct->has_flow) {
      tuple = ct->flow.original;
    } else {
      tuple = packet_tuple(packet);
    }
    if (!tuple) {
      state.hotdrop = true;
      return false;
    }
    const IpAddress& address = by_destination_ ? packet.destination : packet.source;
    const ConnlimitKey key{masked(address, mask_.value_or(address_bits(packet.family))),
                           tuple->zone};
    const ConntrackTime now = ct != nullptr ? ct->now : ConntrackClock::now();
    const std::size_t open =
        extension_state<ConnlimitState>(state).count(key, *tuple, state.flows, now);
    return (open > limit_) == above_;
  }

  // A mask longer than an IPv4 address makes the rule IPv6 only.
  [[nodiscard]] std::optional<Family> family() const override {
    if (mask_ && *mask_ > kIpv4Bits) return Family::kIPv6;
    return std::nullopt;
  }

  // "#conn src/32 > 2", "#conn dst/24 <= 2"
  void list(ListRow& row) const override {
    row.add_extra(std::string("#conn ") + (by_destination_ ? "dst/" : "src/") +
                  std::to_string(mask_.value_or(address_bits(row.family))) +
                  (above_ ? " > " : " <= ") + std::to_string(limit_));
  }

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m connlimit --connlimit-") + (above_ ? "above " : "upto ") +
                    std::to_string(limit_) + " --connlimit-mask " +
                    std::to_string(mask_.value_or(address_bits(line.family))) +
                    (by_destination_ ? " --connlimit-daddr" : " --connlimit-saddr");
  }

 private:
  // The default mask is the whole address; rules are listed as IPv4 unless
  // the mask says otherwise.
  std::uint32_t limit_;
  bool above_;  // else up to
  std::optional<int> mask_;
  bool by_destination_;
};

const std::array<std::string_view, 2> kSides = {"source", "destination"};
const ChoiceType kSideType("address side", kSides);

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValues members = options.members("connlimit");
  const bool above = members.has("above");
  if (above == members.has("upto")) {
    throw FieldError(std::string("connlimit ") + (above ? "takes at most" : "needs") +
                     R"( one of "above" or "upto")");
  }
  const auto limit =
      static_cast<std::uint32_t>(members.get<std::uint64_t>(above ? "above" : "upto"));
  std::optional<int> mask;
  if (members.has("mask")) {
    mask = static_cast<int>(members.get<std::uint64_t>("mask"));
    if (*mask > kIpv6Bits) {
      throw FieldError(
          "expected a prefix length 0-32 (IPv4) or 0-128 (IPv6), got " + std::to_string(*mask),
          "/mask");
    }
  }
  const bool by_destination = members.get_or<std::uint64_t>("by", 0) == 1;
  // Negated, one bound is the other: iptables saves "! --connlimit-upto 2"
  // as "--connlimit-above 2".
  return std::make_unique<ConnlimitMatch>(limit, above != options.negated("connlimit"), mask,
                                          by_destination);
}

// "by": "source" is --connlimit-saddr, "destination" --connlimit-daddr.
std::string save_side(const OptionValue& value) {
  return std::get<std::uint64_t>(value.value) == 1 ? " --connlimit-daddr" : " --connlimit-saddr";
}

const std::array<OptionSpec, 4> kMembers = {
    {{.key = "above",
      .flag = "--connlimit-above",
      .type = &value_types::number(0xffffffff),
      .doc = "more than this many connections"},
     {.key = "upto",
      .flag = "--connlimit-upto",
      .type = &value_types::number(0xffffffff),
      .doc = "at most this many connections"},
     {.key = "mask",
      .flag = "--connlimit-mask",
      .type = &value_types::number(0xff),
      .doc = "the prefix length that groups addresses (0-32 for IPv4, 0-128 for IPv6; the whole "
             "address by default)"},
     {.key = "by",
      .flag = "--connlimit-saddr",
      .aliases = "--connlimit-daddr",
      .type = &kSideType,
      .flag_picks_choice = true,
      .doc = "whose connections are counted: the packet's \"source\" (default) or "
             "\"destination\" network",
      .save = save_side}}};

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "connlimit",
      .negatable = true,
      .members = kMembers,
      .doc = "how many connections the packet's network has open: {\"above\": N} or "
             "{\"upto\": N}",
      .example = R"({"above": 2, "mask": 24})"}}};

const MatchRegistrar kRegistrar({.name = "connlimit",
                                 .summary = "the number of connections a network has open",
                                 .options = kOptions,
                                 .needs = kNeedsTracking,
                                 .build = build});

}  // namespace

}  // namespace verdictd
