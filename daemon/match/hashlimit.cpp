// -m hashlimit: token buckets per address, port or network (xt_hashlimit,
// revision 3 as iptables 1.8.9 uses it). The table, named by the rule, keeps
// one bucket per key of the packet's source and destination addresses and
// ports (as --hashlimit-mode picks them, masked); "upto" matches while the
// key's bucket has a packet's cost (taking it), "above" once it has not.
// Packet rates ("10/second") or byte rates ("100kb/s").
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/hashlimit_table.hpp"
#include "match/prefix_mask.hpp"
#include "match/rate_text.hpp"

namespace verdictd {

namespace {

constexpr std::uint64_t kDefaultBurst = 5;             // XT_HASHLIMIT_BURST
constexpr std::uint64_t kMaxBurst = 1000000;           // XT_HASHLIMIT_BURST_MAX
constexpr std::uint32_t kDefaultGcIntervalMs = 1000;   // XT_HASHLIMIT_GCINTERVAL
constexpr std::uint64_t kByteExpireSeconds = 15;       // XT_HASHLIMIT_BYTE_EXPIRE
constexpr std::uint64_t kByteBurstExpireSeconds = 60;  // XT_HASHLIMIT_BYTE_EXPIRE_BURST
constexpr std::size_t kNameLength = 254;               // XT_HASHLIMIT_NAME_LEN less its NUL
constexpr unsigned kByteShift = 4;
constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = kKiB * kKiB;

// libxt_hashlimit's conversions between a byte rate and its cost.
std::uint64_t cost_to_bytes(std::uint64_t cost) {
  const std::uint64_t r = cost != 0 ? 0xffffffffU / cost : 0xffffffffU;
  return (r - 1) << kByteShift;
}
std::uint64_t bytes_to_cost(std::uint64_t bytes) {
  return 0xffffffffU / (static_cast<std::uint32_t>(bytes >> kByteShift) + 1);
}

std::uint64_t suffix_factor(char suffix) {
  if (suffix == 'm') return kMiB;
  if (suffix == 'k') return kKiB;
  return 1;
}

// A byte rate "N[k|m]b/s" (parse_bytes): its cost, or nullopt.
std::optional<std::uint64_t> parse_byte_rate(std::string_view text) {
  const std::size_t unit = text.find("b/s");
  if (unit == std::string_view::npos || unit == 0) return std::nullopt;
  std::uint64_t count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + unit, count);
  if (error != std::errc{} || count == 0) return std::nullopt;
  const std::string_view suffix(end, text.data() + unit);
  if (suffix.size() > 1 || (suffix.size() == 1 && suffix != "k" && suffix != "m")) {
    return std::nullopt;
  }
  const std::uint64_t cost = bytes_to_cost(count * suffix_factor(suffix.empty() ? ' ' : suffix[0]));
  if (cost == 0) return std::nullopt;
  return cost;
}

// The smallest unit that shows a byte cost exactly, as print_bytes: "100kb".
std::string byte_text(std::uint64_t bytes, std::uint64_t cost) {
  for (const auto& [factor, name] : {std::pair{kMiB, "m"}, std::pair{kKiB, "k"}}) {
    if (bytes >= factor && (cost == 0 || bytes_to_cost(bytes & ~(factor - 1)) == cost)) {
      return std::to_string(bytes / factor) + name + "b";
    }
  }
  return std::to_string(bytes) + "b";
}

// Packet rates ("10/second") or byte rates ("100kb/s"), kept as written.
class HashlimitRateType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "hashlimit rate"; }
  [[nodiscard]] std::string syntax() const override {
    return "a rate \"N/second\" (or /minute, /hour, /day; at most 1000000/second) or \"Nb/s\", "
           "\"Nkb/s\", \"Nmb/s\"";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    const std::string& text = expect_string(v, syntax());
    if (!parse_byte_rate(text) && !parse_packet_rate(text, kHashlimitScale)) {
      throw_expected(syntax(), v);
    }
    return text;
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}}; }
  [[nodiscard]] Json example() const override { return "10/second"; }
};

// A burst: packets, or for byte rates bytes ("2mb", "512kb", or a number).
class BurstType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "hashlimit burst"; }
  [[nodiscard]] std::string syntax() const override {
    return "a number of packets, or of bytes for a byte rate (\"512kb\", \"2mb\")";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
      return v.get<std::uint64_t>();
    }
    const std::string& text = expect_string(v, syntax());
    std::uint64_t count = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    const std::string_view suffix(end, text.data() + text.size());
    if (error != std::errc{} || (suffix != "" && suffix != "b" && suffix != "kb" &&
                                 suffix != "mb" && suffix != "k" && suffix != "m")) {
      throw_expected(syntax(), v);
    }
    return count * suffix_factor(suffix.empty() ? ' ' : suffix[0]);
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::to_string(std::get<std::uint64_t>(v));
  }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 1}},
                               Json{{"type", "string"}, {"pattern", "^[0-9]+([kKmM]?[bB]?)$"}}})}};
  }
  [[nodiscard]] Json example() const override { return 5; }
};

const HashlimitRateType kRateType;
const BurstType kBurstType;
constexpr std::array<NamedBit, 4> kModeNames = {{{"srcip", kHashSourceIp},
                                                 {"srcport", kHashSourcePort},
                                                 {"dstip", kHashDestinationIp},
                                                 {"dstport", kHashDestinationPort}}};
const NamesType kModeType("hashlimit mode", kModeNames);

// The kernel's default table size: 8192 buckets above 1 GiB of memory, else
// a share of it; at most 8 entries a bucket (hashlimit's htable_create).
std::uint32_t default_table_size() {
  constexpr std::uint64_t kGiB = 1024 * kMiB;
  constexpr std::uint64_t kBucketBytes = 16384 * sizeof(void*);
  const auto memory = static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                      static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  if (memory > kGiB) return 8192;
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(memory / kBucketBytes, 16));
}

// What a rule wrote, for its text; the table's configuration comes from it.
struct HashlimitRule {
  std::string name;
  std::string rate;    // as written
  bool above = false;  // XT_HASHLIMIT_INVERT
  HashlimitConfig config;
  std::uint32_t size = 0;  // as written (0: the kernel's default)
  std::uint32_t max = 0;
  std::optional<int> source_bits;
  std::optional<int> destination_bits;
  std::uint64_t quantum_ms = 0;  // the expiry iptables leaves unsaid
};

class HashlimitMatch final : public Match {
 public:
  explicit HashlimitMatch(HashlimitRule rule) : rule_(std::move(rule)) {}

  [[nodiscard]] std::optional<StateName> state_name() const override {
    return StateName{.kind = "hashlimit", .name = rule_.name};
  }

  [[nodiscard]] std::unique_ptr<ExtensionState> make_state() const override {
    return std::make_unique<HashlimitTable>(rule_.config, jiffies_now());
  }

  bool matches(const PacketView& packet, EvalState& state) const override {
    auto& table = extension_state<HashlimitTable>(state);
    HashlimitConfig config = table.config();
    // A prefix longer than the family's address is the whole address.
    config.source_bits = std::min(config.source_bits, address_bits(packet.family));
    config.destination_bits = std::min(config.destination_bits, address_bits(packet.family));
    const bool ports = packet.has_ports;
    const HashlimitKey key =
        hashlimit_key(config, packet.family, packet.source, packet.destination,
                      ports ? packet.source_port : 0, ports ? packet.destination_port : 0);
    const std::optional<bool> under = table.take(key, packet.length, jiffies_now());
    if (!under) {
      state.hotdrop = true;
      return false;
    }
    return *under != rule_.above;
  }

  // A mask longer than an IPv4 address makes the rule IPv6 only.
  [[nodiscard]] std::optional<Family> family() const override {
    if (rule_.source_bits.value_or(0) > kIpv4Bits ||
        rule_.destination_bits.value_or(0) > kIpv4Bits) {
      return Family::kIPv6;
    }
    return std::nullopt;
  }

  // "limit: above 10/sec burst 20 mode srcip-dstport srcmask 24"
  void list(ListRow& row) const override {
    row.add_extra(std::string("limit: ") + (rule_.above ? "above" : "up to") +
                  rate_and_burst(" burst ", " ") + mode_text(" mode ", '-') +
                  table_text(" htable-", row.family, " srcmask ", " dstmask "));
  }

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m hashlimit --hashlimit-") + (rule_.above ? "above" : "upto") +
                    rate_and_burst(" --hashlimit-burst ", " --hashlimit-") +
                    mode_text(" --hashlimit-mode ", ',') + " --hashlimit-name " + rule_.name +
                    table_text(" --hashlimit-htable-", line.family, " --hashlimit-srcmask ",
                               " --hashlimit-dstmask ");
  }

 private:
  // print_rate / print_bytes: the byte rate's burst, when it has one, is
  // printed in bytes with its own prefix.
  [[nodiscard]] std::string rate_and_burst(std::string_view burst_label,
                                           std::string_view byte_burst_prefix) const {
    const HashlimitConfig& c = rule_.config;
    if (!c.bytes) {
      return " " + rate_text(c.average, kHashlimitScale) + std::string(burst_label) +
             std::to_string(c.burst);
    }
    const std::uint64_t bytes = cost_to_bytes(c.average);
    std::string text = " " + byte_text(bytes, c.average) + "/s";
    if (c.burst != 0) {
      text += std::string(byte_burst_prefix) + "burst " + byte_text(bytes * c.burst, 0);
    }
    return text;
  }

  [[nodiscard]] std::string mode_text(std::string_view label, char separator) const {
    if (rule_.config.mode == 0) return "";
    std::string names;
    for (const NamedBit& bit : kModeNames) {
      if ((rule_.config.mode & bit.bits) == 0) continue;
      if (!names.empty()) names += separator;
      names += bit.name;
    }
    return std::string(label) + names;
  }

  [[nodiscard]] std::string table_text(std::string_view prefix, Family family,
                                       std::string_view src_label,
                                       std::string_view dst_label) const {
    const HashlimitConfig& c = rule_.config;
    const std::string p(prefix);
    std::string text;
    if (rule_.size != 0) text += p + "size " + std::to_string(rule_.size);
    if (rule_.max != 0) text += p + "max " + std::to_string(rule_.max);
    if (c.gc_interval_ms != kDefaultGcIntervalMs) {
      text += p + "gcinterval " + std::to_string(c.gc_interval_ms);
    }
    if (c.expire_ms != rule_.quantum_ms) text += p + "expire " + std::to_string(c.expire_ms);
    const int whole = address_bits(family);
    if (rule_.source_bits.value_or(whole) != whole) {
      text += std::string(src_label) + std::to_string(*rule_.source_bits);
    }
    if (rule_.destination_bits.value_or(whole) != whole) {
      text += std::string(dst_label) + std::to_string(*rule_.destination_bits);
    }
    return text;
  }

  HashlimitRule rule_;
};

std::optional<int> prefix_bits(const OptionValues& members, const char* key) {
  if (!members.has(key)) return std::nullopt;
  const auto bits = static_cast<int>(members.get<std::uint64_t>(key));
  if (bits > kIpv6Bits) {
    throw FieldError(
        "expected a prefix length 0-32 (IPv4) or 0-128 (IPv6), got " + std::to_string(bits),
        std::string("/") + key);
  }
  return bits;
}

std::uint32_t positive(const OptionValues& members, const char* key, std::uint32_t fallback) {
  const auto value = static_cast<std::uint32_t>(members.get_or<std::uint64_t>(key, fallback));
  if (value == 0) throw FieldError("expected a number above 0", std::string("/") + key);
  return value;
}

// The rate, burst and default expiry as libxt_hashlimit's parse and final
// check set them.
void read_rate(const OptionValues& members, HashlimitRule& rule) {
  HashlimitConfig& c = rule.config;
  const bool burst_given = members.has("burst");
  const std::uint64_t burst = members.get_or<std::uint64_t>("burst", kDefaultBurst);
  std::uint64_t expire_seconds = 0;
  if (const std::optional<std::uint64_t> cost = parse_byte_rate(rule.rate)) {
    c.bytes = true;
    c.average = *cost;
    expire_seconds = kByteExpireSeconds;
    c.burst = 0;
    if (burst_given) {
      const std::uint64_t per_refill = cost_to_bytes(c.average);
      if (burst < per_refill) {
        throw FieldError(
            "a burst of at least " + std::to_string(per_refill) + " bytes at this rate", "/burst");
      }
      c.burst = (burst + per_refill - 1) / per_refill;
      expire_seconds = kByteBurstExpireSeconds;
    }
    rule.quantum_ms = c.burst == 0 ? kByteExpireSeconds * 1000 : kByteBurstExpireSeconds * 1000;
  } else {
    const ParsedRate rate = *parse_packet_rate(rule.rate, kHashlimitScale);
    if (burst == 0 || burst > kMaxBurst) {
      throw FieldError(
          "expected a burst 1-" + std::to_string(kMaxBurst) + ", got " + std::to_string(burst),
          "/burst");
    }
    c.average = rate.period;
    c.burst = burst;
    expire_seconds = rate.unit_seconds;
    rule.quantum_ms = rate_text_unit(rate.period, kHashlimitScale) * 1000;
  }
  c.expire_ms = static_cast<std::uint32_t>(
      members.get_or<std::uint64_t>("htable_expire", expire_seconds * 1000));
  if (c.expire_ms == 0) throw FieldError("expected a number above 0", "/htable_expire");
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValues members = options.members("hashlimit");
  HashlimitRule rule;
  rule.above = members.has("above");
  if (rule.above == members.has("upto")) {
    throw FieldError(std::string("hashlimit ") + (rule.above ? "takes at most" : "needs") +
                     R"( one of "upto" or "above")");
  }
  // Negated, one is the other: iptables saves "! --hashlimit-upto" as above.
  rule.rate = members.get<std::string>(rule.above ? "above" : "upto");
  rule.above = rule.above != options.negated("hashlimit");
  rule.name = members.get<std::string>("name");
  if (rule.name.empty()) throw FieldError("expected a name", "/name");
  read_rate(members, rule);
  HashlimitConfig& c = rule.config;
  if (members.has("mode")) c.mode = static_cast<std::uint8_t>(members.get<ValueMask>("mode").value);
  rule.source_bits = prefix_bits(members, "srcmask");
  rule.destination_bits = prefix_bits(members, "dstmask");
  c.source_bits = rule.source_bits.value_or(kIpv6Bits);
  c.destination_bits = rule.destination_bits.value_or(kIpv6Bits);
  rule.size = static_cast<std::uint32_t>(members.get_or<std::uint64_t>("htable_size", 0));
  rule.max = static_cast<std::uint32_t>(members.get_or<std::uint64_t>("htable_max", 0));
  const std::uint32_t size = rule.size != 0 ? rule.size : default_table_size();
  c.max = rule.max == 0 ? 8 * size : std::max(rule.max, size);
  c.gc_interval_ms = positive(members, "htable_gcinterval", kDefaultGcIntervalMs);
  if (!hashlimit_credits(c)) {
    // hashlimit_mt_check_common's -ERANGE / -EINVAL.
    throw FieldError("the kernel refuses this rate and burst: its credits overflow");
  }
  return std::make_unique<HashlimitMatch>(std::move(rule));
}

const std::array<OptionSpec, 11> kMembers = {
    {{.key = "upto",
      .flag = "--hashlimit-upto",
      .aliases = "--hashlimit",
      .type = &kRateType,
      .doc = "match while the key is at most this rate (\"10/second\", or bytes \"100kb/s\"), "
             "taking from its bucket"},
     {.key = "above",
      .flag = "--hashlimit-above",
      .type = &kRateType,
      .doc = "match once the key is over this rate; packets under it take from its bucket"},
     {.key = "burst",
      .flag = "--hashlimit-burst",
      .type = &kBurstType,
      .doc = "packets at once before the rate applies (5 by default, up to 1000000); for a "
             "byte rate, bytes (\"2mb\")"},
     {.key = "mode",
      .flag = "--hashlimit-mode",
      .type = &kModeType,
      .doc = "what a key is made of: srcip, srcport, dstip, dstport (none: one bucket for all)"},
     {.key = "srcmask",
      .flag = "--hashlimit-srcmask",
      .type = &value_types::number(0xff),
      .doc = "the prefix length that groups source addresses (the whole address by default)"},
     {.key = "dstmask",
      .flag = "--hashlimit-dstmask",
      .type = &value_types::number(0xff),
      .doc = "the prefix length that groups destination addresses"},
     {.key = "name",
      .flag = "--hashlimit-name",
      .type = &value_types::text(kNameLength),
      .mandatory = true,
      .doc = "the table: rules naming the same one share its buckets, and it is kept across "
             "reloads (its first rule's settings count)"},
     {.key = "htable_size",
      .flag = "--hashlimit-htable-size",
      .type = &value_types::number(0xffffffff),
      .doc = "the table's hash buckets (its default entry limit is 8 times this)"},
     {.key = "htable_max",
      .flag = "--hashlimit-htable-max",
      .type = &value_types::number(0xffffffff),
      .doc = "keys at most; a packet of a new key beyond it is dropped"},
     {.key = "htable_expire",
      .flag = "--hashlimit-htable-expire",
      .type = &value_types::number(0xffffffff),
      .doc = "milliseconds after which an idle key is forgotten (the rate's unit by default)"},
     {.key = "htable_gcinterval",
      .flag = "--hashlimit-htable-gcinterval",
      .type = &value_types::number(0xffffffff),
      .doc = "milliseconds between two sweeps of idle keys (1000 by default)"}}};

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "hashlimit",
      .negatable = true,
      .members = kMembers,
      .doc = "token buckets per address, port or network, in a named table: {\"upto\": "
             "\"10/second\", \"mode\": \"srcip\", \"name\": \"ssh\"}",
      .example = R"({"above": "20/second", "burst": 10, "mode": "srcip", "name": "flood"})"}}};

const MatchRegistrar kRegistrar({.name = "hashlimit",
                                 .summary = "rate limits per address, port or network",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
