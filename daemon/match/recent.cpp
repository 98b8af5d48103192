// -m recent: lists of addresses recently seen, by name (xt_recent). A rule
// records the packet's source or destination (--set), asks whether it was
// seen (--rcheck), within how many seconds and how often, records it again
// when so (--update), or forgets it (--remove). The lists are shared by
// every rule naming them, kept across reloads, and read and written at
// runtime with `verdictctl recent`.
#include <array>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/recent_table.hpp"

namespace verdictd {

namespace {

using Command = RecentCheck::Command;

constexpr std::size_t kNameLength = 199;       // XT_RECENT_NAME_LEN less its NUL
constexpr std::uint32_t kMaxHitCount = 65535;  // below XT_RECENT_MAX_NSTAMPS
constexpr std::array<std::string_view, 4> kCommands = {"set", "rcheck", "update", "remove"};
constexpr std::array<std::string_view, 4> kListed = {"SET", "CHECK", "UPDATE", "REMOVE"};

std::array<std::uint8_t, 16> all_ones() {
  std::array<std::uint8_t, 16> mask{};
  mask.fill(0xff);
  return mask;
}

class RecentMatch final : public Match {
 public:
  RecentMatch(RecentCheck check, std::string name, std::optional<IpAddress> mask, bool by_dest)
      : check_(check),
        name_(std::move(name)),
        mask_(mask),
        by_destination_(by_dest),
        stamps_mask_(recent_stamps_mask(check.hit_count)) {}

  [[nodiscard]] std::optional<StateName> state_name() const override {
    return StateName{.kind = std::string(kRecentStateKind), .name = name_};
  }

  [[nodiscard]] std::unique_ptr<ExtensionState> make_state() const override {
    return std::make_unique<RecentTable>(mask_ ? mask_->bytes : all_ones(), stamps_mask_);
  }

  bool matches(const PacketView& packet, EvalState& state) const override {
    // The TTL as it was before forwarding: a packet going out that no local
    // socket sent has had it lowered already.
    const bool forwarded =
        state.hook == Hook::kForward || (state.hook == Hook::kPostrouting && !state.socket_owner);
    const auto ttl = static_cast<std::uint8_t>(packet.ttl + (forwarded ? 1 : 0));
    return extension_state<RecentTable>(state).evaluate(
        check_, stamps_mask_, by_destination_ ? packet.destination : packet.source, ttl,
        jiffies_now());
  }

  // A mask of one family restricts the rule to it.
  [[nodiscard]] std::optional<Family> family() const override {
    if (mask_) return mask_->family;
    return std::nullopt;
  }

  // "! recent: CHECK seconds: 60 reap TTL-Match name: K1 side: dest mask: 255.255.255.0"
  void list(ListRow& row) const override {
    std::string text = check_.invert ? "! recent: " : "recent: ";
    text += kListed[static_cast<std::size_t>(check_.command)];
    if (check_.seconds != 0) text += " seconds: " + std::to_string(check_.seconds);
    if (check_.reap) text += " reap";
    if (check_.hit_count != 0) text += " hit_count: " + std::to_string(check_.hit_count);
    if (check_.same_ttl) text += " TTL-Match";
    text += " name: " + name_ + (by_destination_ ? " side: dest" : " side: source") +
            " mask: " + mask_text(row.family);
    row.add_extra(text);
  }

  // "-m recent --update --seconds 60 --hitcount 5 --name SSH --mask 255.255.255.255 --rsource"
  void save(SaveLine& line) const override {
    std::string text = " -m recent";
    if (check_.invert) text += " !";
    text += " --" + std::string(kCommands[static_cast<std::size_t>(check_.command)]);
    if (check_.seconds != 0) text += " --seconds " + std::to_string(check_.seconds);
    if (check_.reap) text += " --reap";
    if (check_.hit_count != 0) text += " --hitcount " + std::to_string(check_.hit_count);
    if (check_.same_ttl) text += " --rttl";
    text += " --name " + name_ + " --mask " + mask_text(line.family) +
            (by_destination_ ? " --rdest" : " --rsource");
    line.matches += text;
  }

 private:
  [[nodiscard]] std::string mask_text(Family family) const {
    if (mask_) return mask_->to_string();
    IpAddress ones{.family = family};
    ones.bytes = all_ones();
    if (family == Family::kIPv4) std::fill(ones.bytes.begin() + 4, ones.bytes.end(), 0);
    return ones.to_string();
  }

  RecentCheck check_;
  std::string name_;
  std::optional<IpAddress> mask_;
  bool by_destination_;
  std::uint32_t stamps_mask_;
};

const std::array<std::string_view, 2> kSides = {"source", "destination"};
const ChoiceType kSideType("address side", kSides);

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValues members = options.members("recent");
  RecentCheck check{.invert = options.negated("recent")};
  int commands = 0;
  for (std::size_t i = 0; i < kCommands.size(); ++i) {
    if (members.has(kCommands[i])) {
      check.command = static_cast<Command>(i);
      ++commands;
    }
  }
  if (commands != 1) {
    throw FieldError(R"(recent needs exactly one of "set", "rcheck", "update" or "remove")");
  }
  check.seconds = static_cast<std::uint32_t>(members.get_or<std::uint64_t>("seconds", 0));
  check.hit_count = static_cast<std::uint32_t>(members.get_or<std::uint64_t>("hitcount", 0));
  check.reap = members.has("reap");
  check.same_ttl = members.has("rttl");
  if (check.command == Command::kSet || check.command == Command::kRemove) {
    for (const char* key : {"seconds", "hitcount", "reap", "rttl"}) {
      if (members.has(key)) {
        throw FieldError(std::string("\"") + key + R"(" applies to "rcheck" and "update" only)",
                         std::string("/") + key);
      }
    }
  }
  if (check.reap && check.seconds == 0) throw FieldError(R"("reap" needs "seconds")", "/reap");
  if (check.hit_count > kMaxHitCount) {
    throw FieldError("expected a hitcount 0-" + std::to_string(kMaxHitCount) + ", got " +
                         std::to_string(check.hit_count),
                     "/hitcount");
  }
  const std::string name = members.get_or<std::string>("name", "DEFAULT");
  if (name.empty() || name.size() > kNameLength) {
    throw FieldError("expected a name of 1-" + std::to_string(kNameLength) + " characters",
                     "/name");
  }
  std::optional<IpAddress> mask;
  if (members.has("mask")) mask = members.get<IpPrefix>("mask").address;
  return std::make_unique<RecentMatch>(check, name, mask,
                                       members.get_or<std::uint64_t>("side", 0) == 1);
}

std::string save_side(const OptionValue& value) {
  return std::get<std::uint64_t>(value.value) == 1 ? " --rdest" : " --rsource";
}

const std::array<OptionSpec, 11> kMembers = {
    {{.key = "name",
      .flag = "--name",
      .type = &value_types::text(kNameLength),
      .doc = "the list (\"DEFAULT\" by default), shared by every rule naming it and kept "
             "across reloads"},
     {.key = "set",
      .flag = "--set",
      .type = &value_types::flag(),
      .doc = "record the address (always matches)"},
     {.key = "rcheck",
      .flag = "--rcheck",
      .type = &value_types::flag(),
      .doc = "match when the address is in the list"},
     {.key = "update",
      .flag = "--update",
      .type = &value_types::flag(),
      .doc = "as rcheck, and record the address again when the rule's result is true"},
     {.key = "remove",
      .flag = "--remove",
      .type = &value_types::flag(),
      .doc = "forget the address; matches when it was in the list"},
     {.key = "seconds",
      .flag = "--seconds",
      .type = &value_types::number(0xffffffff),
      .doc = "rcheck/update: only hits this many seconds old or newer count"},
     {.key = "reap",
      .flag = "--reap",
      .type = &value_types::flag(),
      .doc = "rcheck/update with seconds: forget the least recently seen address once older"},
     {.key = "hitcount",
      .flag = "--hitcount",
      .type = &value_types::number(0xffffffff),
      .doc = "rcheck/update: at least this many hits (the current one included when recorded "
             "before)"},
     {.key = "rttl",
      .flag = "--rttl",
      .type = &value_types::flag(),
      .doc = "rcheck/update: the packet's TTL must also be the recorded one"},
     {.key = "side",
      .flag = "--rsource",
      .aliases = "--rdest",
      .type = &kSideType,
      .flag_picks_choice = true,
      .doc = "the packet's \"source\" (default) or \"destination\" address",
      .save = save_side},
     {.key = "mask",
      .flag = "--mask",
      .type = &value_types::address(),
      .doc = "the netmask applied to addresses (the list's first rule's counts)"}}};

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "recent",
      .negatable = true,
      .members = kMembers,
      .doc = "addresses recently seen, in named lists: {\"set\": true, \"name\": \"SSH\"}, "
             "{\"update\": true, \"seconds\": 60, \"hitcount\": 5, \"name\": \"SSH\"}",
      .example = R"({"update": true, "seconds": 60, "hitcount": 4, "name": "SSH"})"}}};

const MatchRegistrar kRegistrar({.name = "recent",
                                 .summary = "addresses recently seen, in named lists",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
