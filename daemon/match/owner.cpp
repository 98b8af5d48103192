// -m owner: the user and group of the local socket a packet leaves from, as
// xt_owner's owner_mt reads them from the socket's file (fsuid, fsgid).
// NFQUEUE hands over the same two numbers (NFQA_UID, NFQA_GID, requested
// with NFQA_CFG_F_UID_GID) exactly when the packet has a full socket with a
// file. A locally generated packet without them is taken to come from one of
// the kernel's own sockets, which have no file (the TCP resets and ACKs of
// its control socket, ICMP errors and echo replies): owner_mt counts them as
// a socket whose user and group tests fail. A forwarded packet has no socket.
// Not told apart: the few local packets the kernel sends without any socket
// (IGMP reports), and a SYN-ACK, which the kernel attributes to its
// listener's owner while NFQUEUE gives no owner for its request socket.
// The supplementary groups (--suppl-groups) are not in the queued packet.
#include <grp.h>
#include <pwd.h>

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <vector>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

// The largest ID iptables takes: (uid_t)-1 means "no ID".
constexpr std::uint64_t kMaxId = 0xfffffffeU;

struct IdTest {
  std::uint32_t low = 0;
  std::uint32_t high = 0;
  bool negated = false;
  [[nodiscard]] bool passes(std::uint32_t id) const { return (id >= low && id <= high) != negated; }
};

enum class IdKind : std::uint8_t { kUser, kGroup };

// The ID of a user or group name from the system's databases (as libxt_owner
// asks getpwnam and getgrnam before it reads a number).
std::optional<std::uint32_t> id_by_name(IdKind kind, const std::string& name) {
  std::array<char, 4096> buffer{};
  if (kind == IdKind::kUser) {
    passwd entry{};
    passwd* found = nullptr;
    if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
        found == nullptr) {
      return std::nullopt;
    }
    return found->pw_uid;
  }
  group entry{};
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

// A user or group: a number, "low-high" (or "low:high"), or a name the
// system knows, resolved when the ruleset loads as iptables resolves it
// when the rule is added. Parsed to a CountRange.
class IdRangeType final : public ValueType {
 public:
  explicit IdRangeType(IdKind kind) : kind_(kind) {}
  [[nodiscard]] std::string_view name() const override {
    return kind_ == IdKind::kUser ? "user" : "group";
  }
  [[nodiscard]] std::string syntax() const override { return std::string(what()); }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (v.is_number_unsigned()) {
      const std::uint64_t id = parse_uint(v, kMaxId, what());
      return CountRange{id, id};
    }
    const std::string& text = expect_string(v, what());
    if (const std::optional<std::uint32_t> id = id_by_name(kind_, text)) {
      return CountRange{*id, *id};
    }
    const std::size_t separator = text.find_first_of("-:");
    const std::optional<std::uint64_t> low = number(std::string_view(text).substr(0, separator));
    const std::optional<std::uint64_t> high =
        separator == std::string::npos ? low : number(std::string_view(text).substr(separator + 1));
    if (!low || !high) {
      if (!text.empty() && text.find_first_not_of("0123456789-:") != std::string::npos) {
        throw FieldError("no " + std::string(name()) + " named " + v.dump() +
                         " in the system's database");
      }
      throw_expected(what(), v);
    }
    if (*low > *high) throw_expected("a range \"low-high\" with low <= high", v);
    return CountRange{*low, *high};
  }
  // "1000" or "1000-2000", as iptables-save prints the IDs.
  [[nodiscard]] std::string save_text(const Value& v) const override {
    const auto& range = std::get<CountRange>(v);
    return std::to_string(range.low) +
           (range.low == range.high ? "" : "-" + std::to_string(range.high));
  }
  [[nodiscard]] Json example() const override { return "1000-1999"; }
  [[nodiscard]] Json schema() const override {
    return Json{
        {"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", kMaxId}},
                               Json{{"type", "string"}, {"minLength", 1}}})}};
  }

 private:
  [[nodiscard]] std::string_view what() const {
    return kind_ == IdKind::kUser ? "a user ID 0-4294967294, a range \"low-high\" or a user name"
                                  : "a group ID 0-4294967294, a range \"low-high\" or a group name";
  }
  static std::optional<std::uint64_t> number(std::string_view digits) {
    std::uint64_t n = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        n > kMaxId) {
      return std::nullopt;
    }
    return n;
  }

  IdKind kind_;
};

class OwnerMatch final : public Match {
 public:
  OwnerMatch(std::optional<bool> socket_exists_negated, std::optional<IdTest> uid,
             std::optional<IdTest> gid)
      : socket_exists_negated_(socket_exists_negated), uid_(uid), gid_(gid) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    const bool ids_negated = (!uid_ || uid_->negated) && (!gid_ || gid_->negated);
    // Forwarded (it came in on an interface): no socket, and the rule
    // matches only when every test it makes is negated.
    if (!state.in_interface.empty()) return socket_exists_negated_.value_or(true) && ids_negated;
    if (socket_exists_negated_.value_or(false)) return false;
    // A kernel socket without a file: only negated user and group tests pass.
    if (!state.socket_owner) return ids_negated;
    return (!uid_ || uid_->passes(state.socket_owner->uid)) &&
           (!gid_ || gid_->passes(state.socket_owner->gid));
  }

  // "owner socket exists", "! owner UID match 1000-2000 owner GID match 5".
  void list(ListRow& row) const override {
    std::vector<std::string> items;
    if (socket_exists_negated_) {
      items.push_back(std::string(*socket_exists_negated_ ? "! " : "") + "owner socket exists");
    }
    if (uid_) items.push_back(item("UID", *uid_));
    if (gid_) items.push_back(item("GID", *gid_));
    for (const std::string& text : items) row.add_extra(text);
  }

 private:
  static std::string item(std::string_view label, const IdTest& test) {
    return std::string(test.negated ? "! " : "") + "owner " + std::string(label) + " match " +
           std::to_string(test.low) +
           (test.low == test.high ? "" : "-" + std::to_string(test.high));
  }

  std::optional<bool> socket_exists_negated_;  // given, and whether negated
  std::optional<IdTest> uid_;
  std::optional<IdTest> gid_;
};

std::optional<IdTest> id_test(const OptionValues& options, std::string_view key) {
  const OptionValue* given = options.find(key);
  if (given == nullptr) return std::nullopt;
  const auto& range = std::get<CountRange>(given->value);
  return IdTest{static_cast<std::uint32_t>(range.low), static_cast<std::uint32_t>(range.high),
                given->negated};
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  std::optional<bool> socket_exists;
  if (const OptionValue* given = options.find("socket_exists")) socket_exists = given->negated;
  return std::make_unique<OwnerMatch>(socket_exists, id_test(options, "uid_owner"),
                                      id_test(options, "gid_owner"));
}

const IdRangeType kUserType(IdKind::kUser);
const IdRangeType kGroupType(IdKind::kGroup);

const std::array<OptionSpec, 3> kOptions = {
    {{.key = "socket_exists",
      .flag = "--socket-exists",
      .type = &value_types::flag(),
      .negatable = true,
      .doc = "the packet belongs to a local socket"},
     {.key = "uid_owner",
      .flag = "--uid-owner",
      .type = &kUserType,
      .negatable = true,
      .doc = "the user (file system UID) of the packet's local socket is in the range; a name is "
             "looked up when the ruleset loads. A packet without a socket matches only a "
             "negated test"},
     {.key = "gid_owner",
      .flag = "--gid-owner",
      .type = &kGroupType,
      .negatable = true,
      .doc = "the group (file system GID) of the packet's local socket is in the range; a name "
             "is looked up when the ruleset loads"}}};

const MatchRegistrar kRegistrar({.name = "owner",
                                 .summary = "the user and group of the packet's local socket",
                                 .options = kOptions,
                                 .hooks = hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting),
                                 .build = build});

}  // namespace

}  // namespace verdictd
