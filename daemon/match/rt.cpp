// -m rt: the IPv6 Routing header, as ip6t_rt's rt_mt6: the header found as
// ipv6_find_hdr finds it, its type, Segments Left in a range, its length in
// bytes, and for type 0 the reserved field clear and the addresses it carries:
// exactly the listed ones in order (strict), or the listed ones among them in
// order (--rt-0-not-strict). A header whose first four bytes are cut off
// drops the packet; one shorter than its length field does not match.
#include <array>
#include <nlohmann/json.hpp>
#include <vector>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "match/spi_range.hpp"
#include "packet/ipv6_extension.hpp"
#include "packet/ipv6_find_header.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kRoutingHeader = 4;  // struct ipv6_rt_hdr
constexpr std::size_t kType0Header = 8;    // struct rt0_hdr, before its addresses
constexpr std::size_t kAddress = 16;
constexpr std::size_t kMaxAddresses = 16;  // IP6T_RT_HOPS

std::vector<IpAddress> parse_addresses(const std::string& text) {
  std::vector<IpAddress> addresses;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma - start);
    const std::optional<IpAddress> address = IpAddress::parse(item);
    if (!address || address->family != Family::kIPv6) {
      std::string message = "in \"" + text + "\": \"";
      message += item;
      message += "\" is not an IPv6 address";
      throw FieldError(message);
    }
    if (addresses.size() == kMaxAddresses) {
      throw FieldError("in \"" + text + "\": more than 16 addresses");
    }
    addresses.push_back(*address);
    if (comma == std::string::npos) return addresses;
    start = comma + 1;
  }
}

std::string addresses_text(const std::vector<IpAddress>& addresses) {
  std::string text;
  for (const IpAddress& address : addresses) {
    text += (text.empty() ? "" : ",") + address.to_string();
  }
  return text;
}

// Kept as the canonical text ("2001:db8::1,::2"), parsed again to build.
class AddressListType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "IPv6 address list"; }
  [[nodiscard]] std::string syntax() const override {
    return R"(up to 16 IPv6 addresses, comma-separated, "2001:db8::1,2001:db8::2")";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    return addresses_text(parse_addresses(expect_string(v, syntax())));
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json example() const override { return "2001:db8::1,2001:db8::2"; }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"pattern", "^[0-9a-fA-F:.,]+$"}};
  }
};

const AddressListType kAddressListType;

struct RtTest {
  std::optional<std::uint32_t> type;
  bool type_negated = false;
  SpiTest segments_left;
  std::optional<std::uint32_t> length;
  bool length_negated = false;
  bool reserved_zero = false;
  std::optional<std::vector<IpAddress>> addresses;
  bool not_strict = false;
};

class RtMatch final : public Match {
 public:
  explicit RtMatch(RtTest test) : test_(std::move(test)) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    const std::span<const std::uint8_t> b =
        packet.bytes.first(std::min<std::size_t>(packet.bytes.size(), packet.length));
    const Ipv6HeaderSearch found = find_ipv6_header(b, ipproto::kRouting);
    if (found.result == Ipv6HeaderSearch::Result::kAbsent) return false;
    if (found.result == Ipv6HeaderSearch::Result::kMalformed ||
        found.offset + kRoutingHeader > b.size()) {
      state.hotdrop = true;
      return false;
    }
    const std::size_t at = found.offset;
    const std::size_t length = (static_cast<std::size_t>(b[at + 1]) + 1) * 8;  // ipv6_optlen
    if (b.size() - at < length) return false;
    if (!test_.segments_left.passes(b[at + 3]) ||
        (test_.length && (*test_.length == length) == test_.length_negated) ||
        (test_.type && (*test_.type == b[at + 2]) == test_.type_negated)) {
      return false;
    }
    if (test_.reserved_zero &&
        (b[at + 4] != 0 || b[at + 5] != 0 || b[at + 6] != 0 || b[at + 7] != 0)) {
      return false;
    }
    return !test_.addresses ||
           addresses_listed(b.subspan(at + kType0Header, length - kType0Header));
  }

  [[nodiscard]] std::optional<Family> family() const override { return Family::kIPv6; }

  // "rt type:0 segslefts:2:5 length:40 reserved 0-addrs ::1,::2 0-not-strict".
  void list(ListRow& row) const override {
    std::string text = "rt";
    if (test_.type) {
      text += std::string(" type:") + (test_.type_negated ? "!" : "") + std::to_string(*test_.type);
    }
    const std::string segments = test_.segments_left.list_text("segsleft");
    if (!segments.empty()) text += " " + segments;
    if (test_.length) {
      text += std::string(" length:") + (test_.length_negated ? "!" : "") +
              std::to_string(*test_.length);
    }
    if (test_.reserved_zero) text += " reserved";
    if (test_.addresses) text += " 0-addrs " + addresses_text(*test_.addresses);
    if (test_.not_strict) text += " 0-not-strict";
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    line.matches += " -m rt";
    if (test_.type) {
      line.matches +=
          std::string(test_.type_negated ? " !" : "") + " --rt-type " + std::to_string(*test_.type);
    }
    line.matches += test_.segments_left.save_text("--rt-segsleft");
    if (test_.length) {
      line.matches += std::string(test_.length_negated ? " !" : "") + " --rt-len " +
                      std::to_string(*test_.length);
    }
    if (test_.reserved_zero) line.matches += " --rt-0-res";
    if (test_.addresses) line.matches += " --rt-0-addrs " + addresses_text(*test_.addresses);
    if (test_.not_strict) line.matches += " --rt-0-not-strict";
  }

 private:
  // The type 0 addresses after the reserved field, as rt_mt6 compares them.
  bool addresses_listed(std::span<const std::uint8_t> carried) const {
    const std::vector<IpAddress>& want = *test_.addresses;
    const std::size_t count = carried.size() / kAddress;
    if (want.size() > count) return false;
    const auto carried_at = [&](std::size_t i) {
      return IpAddress::from_v6(carried.subspan(i * kAddress, kAddress).data());
    };
    if (test_.not_strict) {
      std::size_t seen = 0;
      for (std::size_t i = 0; i < count && seen < want.size(); ++i) {
        if (carried_at(i) == want[seen]) ++seen;
      }
      return seen == want.size();
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (carried_at(i) != want[i]) return false;
    }
    return want.size() == count;
  }

  RtTest test_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  RtTest test;
  if (options.has("rt_type")) {
    test.type = static_cast<std::uint32_t>(options.get<std::uint64_t>("rt_type"));
    test.type_negated = options.negated("rt_type");
  }
  test.segments_left = SpiTest::from(options, "rt_segsleft");
  if (options.has("rt_len")) {
    test.length = static_cast<std::uint32_t>(options.get<std::uint64_t>("rt_len"));
    test.length_negated = options.negated("rt_len");
  }
  test.reserved_zero = options.has("rt_0_res");
  if (options.has("rt_0_addrs")) {
    test.addresses = parse_addresses(options.get<std::string>("rt_0_addrs"));
  }
  test.not_strict = options.has("rt_0_not_strict");
  // rt_mt6_check: the type 0 tests need "--rt-type 0", not negated.
  if ((test.reserved_zero || test.addresses) &&
      (!test.type || *test.type != 0 || test.type_negated)) {
    throw FieldError(R"("rt_0_res" and "rt_0_addrs" need "rt_type": 0, not negated)");
  }
  if (test.not_strict && !test.addresses) {
    throw FieldError(R"("rt_0_not_strict" needs "rt_0_addrs")");
  }
  return std::make_unique<RtMatch>(std::move(test));
}

const std::array<OptionSpec, 6> kOptions = {
    {{.key = "rt_type",
      .flag = "--rt-type",
      .type = &value_types::number(0xffffffff),
      .negatable = true,
      .doc = "the Routing header's type"},
     {.key = "rt_segsleft",
      .flag = "--rt-segsleft",
      .type = &spi_range_type(),
      .negatable = true,
      .doc = "the Routing header's Segments Left is in the range"},
     {.key = "rt_len",
      .flag = "--rt-len",
      .type = &value_types::number(0xffffffff),
      .negatable = true,
      .doc = "the Routing header's length in bytes ((length field + 1) * 8)"},
     {.key = "rt_0_res",
      .flag = "--rt-0-res",
      .type = &value_types::flag(),
      .doc = "type 0 (needs \"rt_type\": 0): the reserved field is zero"},
     {.key = "rt_0_addrs",
      .flag = "--rt-0-addrs",
      .type = &kAddressListType,
      .doc = "type 0 (needs \"rt_type\": 0): the header carries exactly these addresses, in order"},
     {.key = "rt_0_not_strict",
      .flag = "--rt-0-not-strict",
      .type = &value_types::flag(),
      .doc = "with \"rt_0_addrs\": the listed addresses are among those carried, in order"}}};

const MatchRegistrar kRegistrar(
    {.name = "rt", .summary = "the IPv6 Routing header", .options = kOptions, .build = build});

}  // namespace

}  // namespace verdictd
