// -m connbytes: the packets, bytes or average packet size a connection has
// counted so far, in one direction or both, within a range (xt_connbytes).
#include <array>
#include <charconv>
#include <limits>

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

  [[nodiscard]] bool needs_conntrack() const override { return true; }

  // "! connbytes 10 connbytes mode avgpkt connbytes direction both"
  void list(ListRow& row) const override {
    row.add_extra(std::string(negated() ? "! " : "") + "connbytes " + range_text() +
                  " connbytes mode " + std::string(kModes[static_cast<std::size_t>(mode_)]) +
                  " connbytes direction " +
                  std::string(kDirections[static_cast<std::size_t>(counted_)]));
  }

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m connbytes") + (negated() ? " !" : "") + " --connbytes " +
                    range_text() + " --connbytes-mode " +
                    std::string(kModes[static_cast<std::size_t>(mode_)]) + " --connbytes-dir " +
                    std::string(kDirections[static_cast<std::size_t>(counted_)]);
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
std::pair<std::uint64_t, std::uint64_t> parse_count_range(const Json& v) {
  constexpr std::string_view kWhat = "a count \"from\", \"from:to\", \"from:\" or \":to\"";
  if (v.is_number_unsigned()) return {v.get<std::uint64_t>(), kUnlimited};
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
  return {from, to};
}

template <class Enum, std::size_t kCount>
Enum parse_name(const Json& v, const std::array<std::string_view, kCount>& names) {
  std::string what;
  for (std::string_view name : names) {
    what += std::string(what.empty() ? "" : " or ") + "\"" + std::string(name) + "\"";
  }
  for (std::size_t i = 0; i < kCount; ++i) {
    if (v == names[i]) return static_cast<Enum>(i);
  }
  throw_expected(what, v);
}

std::unique_ptr<Match> make_connbytes(const MatchArgs& args) {
  constexpr std::string_view kWhat =
      R"(an object {"range": "from[:to]", "dir": "original"|"reply"|"both", "mode": "packets"|"bytes"|"avgpkt"})";
  expect_object_keys(args.value, {"range", "dir", "mode"}, kWhat);
  if (!args.value.contains("range") || !args.value.contains("dir") ||
      !args.value.contains("mode")) {
    throw_expected(kWhat, args.value);
  }
  auto member = [&](const char* key, auto parse) {
    try {
      return parse(args.value[key]);
    } catch (FieldError& e) {
      e.pointer_suffix = std::string("/") + key + e.pointer_suffix;
      throw;
    }
  };
  auto [from, to] = member("range", parse_count_range);
  const auto counted =
      member("dir", [](const Json& v) { return parse_name<Counted>(v, kDirections); });
  const auto mode = member("mode", [](const Json& v) { return parse_name<Mode>(v, kModes); });
  // iptables keeps a negated range with its ends swapped.
  if (args.negated) std::swap(from, to);
  return std::make_unique<ConnbytesMatch>(from, to, mode, counted);
}

const MatchRegistrar kRegistrar("connbytes", {make_connbytes, true});

}  // namespace

}  // namespace verdictd
