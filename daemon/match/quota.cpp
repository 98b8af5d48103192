// -m quota: the rule's first BYTES bytes (xt_quota). Each rule counts its
// quota down by the length of the packets that reach it; once a packet no
// longer fits, the quota is spent for good. Kept across a reload while the
// rule is unchanged.
#include <array>
#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

struct QuotaLeft final : ExtensionState {
  explicit QuotaLeft(std::uint64_t quota) : bytes(quota) {}
  std::mutex mutex;  // The kernel's priv->lock; a leaf lock.
  std::uint64_t bytes;
};

class QuotaMatch final : public Match {
 public:
  QuotaMatch(std::uint64_t quota, bool negated) : quota_(quota), negated_(negated) {}

  [[nodiscard]] std::unique_ptr<ExtensionState> make_state() const override {
    return std::make_unique<QuotaLeft>(quota_);
  }

  // quota_mt: a packet that fits takes its length; one that does not
  // empties the quota, so no smaller packet after it matches either.
  bool matches(const PacketView& packet, EvalState& state) const override {
    auto& left = extension_state<QuotaLeft>(state);
    const std::lock_guard lock(left.mutex);
    if (left.bytes >= packet.length) {
      left.bytes -= packet.length;
      return !negated_;
    }
    left.bytes = 0;
    return negated_;
  }

  // "quota: 1000 bytes", negated or not (libxt_quota prints no "!").
  void list(ListRow& row) const override {
    row.add_extra("quota: " + std::to_string(quota_) + " bytes");
  }

  void save(SaveLine& line) const override {
    line.matches +=
        std::string(" -m quota") + (negated_ ? " !" : "") + " --quota " + std::to_string(quota_);
  }

 private:
  std::uint64_t quota_;
  bool negated_;
};

// A byte count up to 2^64 - 1, as a JSON number or a decimal string.
class ByteCountType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "byte count"; }
  [[nodiscard]] std::string syntax() const override {
    return "a number of bytes 0-18446744073709551615, or a string holding one";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
      return v.get<std::uint64_t>();
    }
    const std::string& text = expect_string(v, syntax());
    std::uint64_t bytes = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), bytes);
    if (error != std::errc{} || end != text.data() + text.size()) throw_expected(syntax(), v);
    return bytes;
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::to_string(std::get<std::uint64_t>(v));
  }
  [[nodiscard]] Json schema() const override {
    return Json{{"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 0}},
                                       Json{{"type", "string"}, {"pattern", "^[0-9]+$"}}})}};
  }
  [[nodiscard]] Json example() const override { return 1048576; }
};

const ByteCountType kByteCount;

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<QuotaMatch>(options.get<std::uint64_t>("quota"),
                                      options.negated("quota"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "quota",
      .flag = "--quota",
      .type = &kByteCount,
      .negatable = true,
      .doc = "the rule's first this many bytes; counted down per rule, kept across reloads"}}};

const MatchRegistrar kRegistrar(
    {.name = "quota", .summary = "a byte quota per rule", .options = kOptions, .build = build});

}  // namespace

}  // namespace verdictd
