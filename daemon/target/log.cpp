// -j LOG: writes a line about the packet in the kernel's words (xt_LOG and
// nf_log_syslog.c; the text is packet/log_line.cpp) and lets it go on to the
// next rule. The line goes to the journal through the daemon's logger
// (EvalState::log_sink); any table, any hook, as the kernel has it.
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "extension/log_sink.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"
#include "packet/link_header.hpp"
#include "packet/log_line.hpp"
#include "packet/packet_type.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kDefaultLevel = 4;  // warning, as libxt_LOG's LOG_DEFAULT_LEVEL
constexpr std::uint8_t kLevels = 8;
// xt_log_info's prefix is 30 bytes, NUL included (log_tg_check).
constexpr std::size_t kPrefixLength = 29;

// The names libxtables 1.8.9 takes for --log-level (XTTYPE_SYSLOGLEVEL).
struct LevelName {
  std::string_view name;
  std::uint8_t level;
};
constexpr std::array<LevelName, 9> kLevelNames = {{{"emerg", 0},
                                                   {"alert", 1},
                                                   {"crit", 2},
                                                   {"error", 3},
                                                   {"warning", 4},
                                                   {"notice", 5},
                                                   {"info", 6},
                                                   {"debug", 7},
                                                   {"panic", 0}}};

// A syslog level: a name of kLevelNames, or 0-7 as a number or a string.
class LevelType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "syslog level"; }
  [[nodiscard]] std::string syntax() const override { return what(); }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (v.is_string()) {
      for (const LevelName& level : kLevelNames) {
        if (v.get<std::string>() == level.name) return std::uint64_t{level.level};
      }
    }
    if (!v.is_number_unsigned() && !v.is_string()) throw_expected(what(), v);
    return std::uint64_t{parse_uint(v, kLevels - 1, what())};
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::to_string(std::get<std::uint64_t>(v));
  }
  [[nodiscard]] Json example() const override { return "info"; }
  [[nodiscard]] Json schema() const override {
    Json names = Json::array();
    for (const LevelName& level : kLevelNames) names.push_back(level.name);
    return Json{{"anyOf", Json::array({Json{{"type", "integer"}, {"minimum", 0}, {"maximum", 7}},
                                       Json{{"type", "string"}, {"pattern", "^[0-7]$"}},
                                       Json{{"enum", names}}})}};
  }

 private:
  static std::string what() {
    return R"(a syslog level 0-7 or one of "emerg", "alert", "crit", "error", "warning", )"
           R"("notice", "info", "debug", "panic")";
  }
};

// What --log-prefix takes: 1 to 29 characters, no newline (libxt_LOG).
class PrefixType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "log prefix"; }
  [[nodiscard]] std::string syntax() const override { return what(); }
  [[nodiscard]] Value parse(const Json& v) const override {
    const std::string& text = expect_string(v, what());
    if (text.empty() || text.size() > kPrefixLength || text.find('\n') != std::string::npos) {
      throw_expected(what(), v);
    }
    return text;
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json example() const override { return "dropped: "; }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"},
                {"minLength", 1},
                {"maxLength", kPrefixLength},
                {"pattern", "^[^\\n]*$"}};
  }

 private:
  static std::string what() { return "a string of 1 to 29 characters without a newline"; }
};

struct FlagOption {
  std::string_view key;
  std::uint8_t bit;
  std::string_view flag;
};
constexpr std::array<FlagOption, 5> kFlagOptions = {{
    {"log_tcp_sequence", logflag::kTcpSequence, "--log-tcp-sequence"},
    {"log_tcp_options", logflag::kTcpOptions, "--log-tcp-options"},
    {"log_ip_options", logflag::kIpOptions, "--log-ip-options"},
    {"log_uid", logflag::kUid, "--log-uid"},
    {"log_macdecode", logflag::kMacDecode, "--log-macdecode"},
}};

class LogTarget final : public Target {
 public:
  LogTarget(std::string prefix, std::uint8_t level, std::uint8_t flags)
      : prefix_(std::move(prefix)), level_(level), flags_(flags) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    if (state.log_sink == nullptr) return TargetAction::kContinue;
    const PacketType type = packet_type(state.hook, packet, state.in_ifindex, state.broadcasts);
    LogRecord record{.message = log_line(
                         packet.bytes, packet.family,
                         {.prefix = prefix_,
                          .flags = flags_,
                          .has_input_device = state.in_ifindex != 0 || !state.in_interface.empty(),
                          .device = state.link.device,
                          .link_header = received_header(state.link, type, packet),
                          .in_interface = state.in_interface,
                          .out_interface = state.out_interface,
                          .mark = state.mark,
                          .owner = state.socket_owner}),
                     .priority = level_,
                     .table = state.rule.table,
                     .chain = std::string(state.rule.chain),
                     .rule = state.rule.number,
                     .comment = std::string(state.rule.comment),
                     .hook = state.hook,
                     .accepted_at = hooks_before(state.hook, state.in_ifindex),
                     .mark = state.mark,
                     .has_network = packet.has_network,
                     .source = packet.source,
                     .destination = packet.destination,
                     .protocol = packet.protocol,
                     .has_ports = packet.has_ports,
                     .source_port = packet.source_port,
                     .destination_port = packet.destination_port};
    state.log_sink->submit(std::move(record));
    return TargetAction::kContinue;
  }

  // `iptables -L -n` (libxt_LOG's print, numeric).
  [[nodiscard]] std::string list_extra() const override {
    std::string text = "LOG flags " + std::to_string(flags_) + " level " + std::to_string(level_);
    if (!prefix_.empty()) text += " prefix \"" + prefix_ + "\"";
    return text;
  }

  // libxt_LOG's save: the level only when not the default.
  [[nodiscard]] std::string save() const override {
    std::string text = "-j LOG";
    if (!prefix_.empty()) text += " --log-prefix " + save_string(prefix_);
    if (level_ != kDefaultLevel) text += " --log-level " + std::to_string(level_);
    for (const FlagOption& option : kFlagOptions) {
      if ((flags_ & option.bit) != 0) text += " " + std::string(option.flag);
    }
    return text;
  }

 private:
  std::string prefix_;
  std::uint8_t level_;
  std::uint8_t flags_;
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& /*context*/) {
  std::uint8_t flags = 0;
  for (const FlagOption& option : kFlagOptions) {
    if (options.has(option.key)) flags |= option.bit;
  }
  return std::make_unique<LogTarget>(
      options.get_or<std::string>("log_prefix", ""),
      static_cast<std::uint8_t>(options.get_or<std::uint64_t>("log_level", kDefaultLevel)), flags);
}

const LevelType kLevelType;
const PrefixType kPrefixType;

const std::array<OptionSpec, 7> kOptions = {{
    {.key = "log_prefix",
     .flag = "--log-prefix",
     .type = &kPrefixType,
     .doc = "text in front of the line, at most 29 characters"},
    {.key = "log_level",
     .flag = "--log-level",
     .type = &kLevelType,
     .doc = "the line's syslog priority (default warning, 4)"},
    {.key = "log_tcp_sequence",
     .flag = "--log-tcp-sequence",
     .type = &value_types::flag(),
     .doc = "adds the TCP sequence and acknowledgement numbers (SEQ= ACK=)"},
    {.key = "log_tcp_options",
     .flag = "--log-tcp-options",
     .type = &value_types::flag(),
     .doc = "adds the TCP options, in hex (OPT (...))"},
    {.key = "log_ip_options",
     .flag = "--log-ip-options",
     .type = &value_types::flag(),
     .doc = "adds the IPv4 options in hex, and the IPv6 extension headers"},
    {.key = "log_uid",
     .flag = "--log-uid",
     .type = &value_types::flag(),
     .doc = "adds the owner of the local socket (UID= GID=)"},
    {.key = "log_macdecode",
     .flag = "--log-macdecode",
     .type = &value_types::flag(),
     .doc = "decodes the link-layer header (MACSRC= MACDST= MACPROTO=) instead of MAC="},
}};

const TargetRegistrar kRegistrar({.name = "LOG",
                                  .summary = "writes a line about the packet to the journal, in "
                                             "the kernel's words; the packet goes on",
                                  .options = kOptions,
                                  .build = build});

}  // namespace

}  // namespace verdictd
