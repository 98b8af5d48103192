// -m connbytes: the packets, bytes or average packet size a connection has
// counted so far, in one direction or both, within a range (xt_connbytes).
#include <array>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

enum class Mode : std::uint8_t { kPackets, kBytes, kAveragePacket };
constexpr std::array<std::string_view, 3> kModes = {"packets", "bytes", "avgpkt"};
enum class Counted : std::uint8_t { kOriginal, kReply, kBoth };
constexpr std::array<std::string_view, 3> kDirections = {"original", "reply", "both"};

class ConnbytesMatch final : public Match {
 public:
  // As the kernel keeps it: `from` > `to` is the negated range.
  ConnbytesMatch(std::uint64_t from, std::uint64_t to, Mode mode, Counted counted)
      : from_(from), to_(to), mode_(mode), counted_(counted) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    const PacketConntrack* ct = state.conntrack;
    if (ct == nullptr || !ct->has_flow) return false;
    const std::uint64_t what = counted_value(ct->flow);
    if (to_ >= from_) return what >= from_ && what <= to_;
    return what < to_ || what > from_;
  }

  // "! connbytes 10 connbytes mode avgpkt connbytes direction both"
  void list(ListRow& row) const override {
    row.add_extra(std::string(negated() ? "! " : "") + "connbytes " + range_text() +
                  " connbytes mode " + std::string(kModes[static_cast<std::size_t>(mode_)]) +
                  " connbytes direction " +
                  std::string(kDirections[static_cast<std::size_t>(counted_)]));
  }

 private:
  [[nodiscard]] std::uint64_t counted_value(const Flow& flow) const {
    DirectionCounters sum;
    for (const Counted side : {Counted::kOriginal, Counted::kReply}) {
      if (counted_ != Counted::kBoth && counted_ != side) continue;
      const DirectionCounters& c = flow.counters[static_cast<std::size_t>(side)];
      sum.packets += c.packets;
      sum.bytes += c.bytes;
    }
    switch (mode_) {
      case Mode::kPackets:
        return sum.packets;
      case Mode::kBytes:
        return sum.bytes;
      case Mode::kAveragePacket:
        return sum.packets == 0 ? 0 : sum.bytes / sum.packets;
    }
    return 0;
  }

  [[nodiscard]] bool negated() const { return from_ > to_; }

  // "10" for 10 and up, else "10:100", as iptables prints the range.
  [[nodiscard]] std::string range_text() const {
    const std::uint64_t low = negated() ? to_ : from_;
    const std::uint64_t high = negated() ? from_ : to_;
    return std::to_string(low) + (high == kUnlimited ? "" : ":" + std::to_string(high));
  }

  std::uint64_t from_;
  std::uint64_t to_;
  Mode mode_;
  Counted counted_;
};

// 10, "10", "10:" (10 and up), ":100" or "10:100".
class CountRangeType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "count range"; }
  [[nodiscard]] Json example() const override { return "10:100"; }
  [[nodiscard]] std::string syntax() const override { return std::string(kWhat); }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (v.is_number_unsigned()) return CountRange{v.get<std::uint64_t>(), kUnlimited};
    const std::string& text = expect_string(v, kWhat);
    auto number = [&](std::string_view digits, std::uint64_t if_empty) {
      if (digits.empty()) return if_empty;
      std::uint64_t n = 0;
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (error != std::errc() || end != digits.data() + digits.size()) throw_expected(kWhat, v);
      return n;
    };
    const auto colon = text.find(':');
    if (text.empty() || text == ":") throw_expected(kWhat, v);
    const std::uint64_t from = number(std::string_view(text).substr(0, colon), 0);
    const std::uint64_t to = colon == std::string::npos
                                 ? kUnlimited
                                 : number(std::string_view(text).substr(colon + 1), kUnlimited);
    if (from > to) throw_expected("a range \"from:to\" with from <= to", v);
    return CountRange{from, to};
  }
  // "10" for 10 and up, else "10:100", as iptables prints the range.
  [[nodiscard]] std::string save_text(const Value& v) const override {
    const auto& range = std::get<CountRange>(v);
    return std::to_string(range.low) +
           (range.high == kUnlimited ? "" : ":" + std::to_string(range.high));
  }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 0}},
                               Json{{"type", "string"}, {"pattern", "^([0-9]*)(:[0-9]*)?$"}}})}};
  }

 private:
  static constexpr std::string_view kWhat = "a count \"from\", \"from:to\", \"from:\" or \":to\"";
};

const CountRangeType kCountRange;
const ChoiceType kModeType("connbytes mode", kModes);
const ChoiceType kDirectionType("connbytes direction", kDirections);

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValues members = options.members("connbytes");
  auto [from, to] = members.get<CountRange>("range");
  // iptables keeps a negated range with its ends swapped.
  if (options.negated("connbytes")) std::swap(from, to);
  return std::make_unique<ConnbytesMatch>(from, to,
                                          static_cast<Mode>(members.get<std::uint64_t>("mode")),
                                          static_cast<Counted>(members.get<std::uint64_t>("dir")));
}

// In the order iptables-save prints them.
const std::array<OptionSpec, 3> kMembers = {
    {{.key = "range",
      .flag = "--connbytes",
      .type = &kCountRange,
      .mandatory = true,
      .doc = "the counted amount is in the range"},
     {.key = "mode",
      .flag = "--connbytes-mode",
      .type = &kModeType,
      .mandatory = true,
      .doc = "what is counted: packets, bytes, or the average packet size (avgpkt)"},
     {.key = "dir",
      .flag = "--connbytes-dir",
      .type = &kDirectionType,
      .mandatory = true,
      .doc = "which direction's counters: original, reply or both"}}};

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "connbytes",
      .negatable = true,
      .members = kMembers,
      .doc = "what the connection has counted so far is in a range"}}};

const MatchRegistrar kRegistrar({.name = "connbytes",
                                 .summary = "the packets, bytes or average packet size a "
                                            "connection has counted",
                                 .options = kOptions,
                                 .needs = kNeedsTracking,
                                 .build = build});

}  // namespace

}  // namespace verdictd
