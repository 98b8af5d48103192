// -m sctp (loaded by -p sctp): --sport and --dport over the 12-byte SCTP
// common header, and --chunk-types over the chunks that follow, as sctp_mt
// and its match_packet: "all" (every type listed is present, with its
// flags), "any" (one of them is) or "only" (no other type is), a chunk's
// flags written as letters, upper case set and lower case clear.
#include <strings.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "match/transport_ports.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kSctpHeaderBytes = 12;
constexpr std::size_t kChunkHeaderBytes = 4;
constexpr std::size_t kMaxFlagTests = 4;  // XT_NUM_SCTP_FLAGS
constexpr std::array<std::uint8_t, 1> kProtocols = {ipproto::kSctp};

// libxt_sctp's chunk names; `flags` names bits 7..0 ('-': none).
struct ChunkName {
  std::string_view name;
  std::uint8_t type;
  std::string_view flags = "--------";
};
constexpr std::array<ChunkName, 22> kChunks = {{{"DATA", 0, "----IUBE"},
                                                {"INIT", 1},
                                                {"INIT_ACK", 2},
                                                {"SACK", 3},
                                                {"HEARTBEAT", 4},
                                                {"HEARTBEAT_ACK", 5},
                                                {"ABORT", 6, "-------T"},
                                                {"SHUTDOWN", 7},
                                                {"SHUTDOWN_ACK", 8},
                                                {"ERROR", 9},
                                                {"COOKIE_ECHO", 10},
                                                {"COOKIE_ACK", 11},
                                                {"ECN_ECNE", 12},
                                                {"ECN_CWR", 13},
                                                {"SHUTDOWN_COMPLETE", 14, "-------T"},
                                                {"I_DATA", 64},  // its flags iptables 1.8.9 drops
                                                {"RE_CONFIG", 130},
                                                {"PAD", 132},
                                                {"ASCONF", 193},
                                                {"ASCONF_ACK", 128},
                                                {"FORWARD_TSN", 192},
                                                {"I_FORWARD_TSN", 194}}};

enum class ChunkMode : std::uint8_t { kAll, kAny, kOnly };
constexpr std::array<std::string_view, 3> kModes = {"all", "any", "only"};

struct FlagTest {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint8_t mask = 0;
};

struct ChunkTest {
  ChunkMode mode = ChunkMode::kAll;
  std::bitset<256> types;
  std::vector<FlagTest> flags;

  // match_flags: a type's flags, under the mask, as written (any when none are).
  [[nodiscard]] bool flags_pass(std::uint8_t type, std::uint8_t chunk_flags) const {
    for (const FlagTest& f : flags) {
      if (f.type == type) return (chunk_flags & f.mask) == f.flags;
    }
    return true;
  }
};

const ChunkName* chunk_named(std::string_view name) {
  for (const ChunkName& c : kChunks) {
    if (c.name.size() == name.size() && strncasecmp(c.name.data(), name.data(), name.size()) == 0) {
      return &c;
    }
  }
  return nullptr;
}

const ChunkName* chunk_of(std::uint8_t type) {
  for (const ChunkName& c : kChunks) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

// "all DATA:Be,INIT": the mode, then chunk names with optional flags.
ChunkTest parse_chunks(const std::string& text) {
  const auto fail = [&](const std::string& why) {
    throw FieldError("in \"" + text + "\": " + why);
  };
  const std::size_t space = text.find(' ');
  if (space == std::string::npos) {
    fail(R"(expected "all", "any" or "only", a space, then chunk types)");
  }
  const std::string_view mode = std::string_view(text).substr(0, space);
  const auto* known = std::find(kModes.begin(), kModes.end(), mode);
  if (known == kModes.end()) fail(R"(expected "all", "any" or "only" first)");
  ChunkTest test;
  test.mode = static_cast<ChunkMode>(known - kModes.begin());
  std::string_view list = std::string_view(text).substr(space + 1);
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    const std::size_t colon = item.find(':');
    const std::string_view name = item.substr(0, colon);
    if (strncasecmp(name.data(), "ALL", 3) == 0 && name.size() == 3) {
      test.types.set();
    } else if (strncasecmp(name.data(), "NONE", 4) == 0 && name.size() == 4) {
      test.types.reset();
    } else {
      const ChunkName* chunk = chunk_named(name);
      if (chunk == nullptr) fail("unknown chunk type \"" + std::string(name) + "\"");
      test.types.set(chunk->type);
      if (colon != std::string_view::npos) {
        FlagTest flags{.type = chunk->type};
        for (const char letter : item.substr(colon + 1)) {
          const auto bit = chunk->flags.find(static_cast<char>(std::toupper(letter)));
          if (bit == std::string_view::npos || letter == '-') {
            fail("chunk " + std::string(chunk->name) + " has no flag '" + letter + "'");
          }
          const auto value = static_cast<std::uint8_t>(1U << (7 - bit));
          flags.mask |= value;
          if (std::isupper(static_cast<unsigned char>(letter)) != 0) flags.flags |= value;
        }
        if (test.flags.size() == kMaxFlagTests) fail("flags for more than 4 chunk types");
        test.flags.push_back(flags);
      }
    }
    if (comma == std::string_view::npos) return test;
    list = list.substr(comma + 1);
  }
}

// The chunk list as libxt_sctp prints it: by name (save) or "0x0000" (-L -n).
std::string chunks_text(const ChunkTest& test, bool numeric) {
  std::string text(kModes[static_cast<std::size_t>(test.mode)]);
  if (test.types.none()) return text + " NONE";
  if (test.types.all()) return text + " ALL";
  bool first = true;
  for (std::size_t type = 0; type < test.types.size(); ++type) {
    if (!test.types.test(type)) continue;
    text += first ? " " : ",";
    first = false;
    const ChunkName* chunk = chunk_of(static_cast<std::uint8_t>(type));
    if (numeric || chunk == nullptr) {
      std::array<char, 7> number{};
      std::snprintf(number.data(), number.size(), "0x%04X", static_cast<unsigned>(type));
      text += number.data();
    } else {
      text += chunk->name;
    }
    for (const FlagTest& f : test.flags) {
      if (f.type != type || chunk == nullptr) continue;
      text += ':';
      for (int bit = 7; bit >= 0; --bit) {
        if ((f.mask & (1U << static_cast<unsigned>(bit))) == 0) continue;
        const char letter = chunk->flags[static_cast<std::size_t>(7 - bit)];
        text += (f.flags & (1U << static_cast<unsigned>(bit))) != 0
                    ? letter
                    : static_cast<char>(std::tolower(letter));
      }
    }
  }
  return text;
}

// Kept as the canonical text ("all DATA:Be,INIT"), parsed again to build.
class ChunkTypesType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "SCTP chunk types"; }
  [[nodiscard]] std::string syntax() const override {
    return R"("all", "any" or "only", a space, then chunk types (DATA, INIT, ..., ALL, NONE) )"
           R"(with optional flags, "DATA:Be,INIT")";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    return chunks_text(parse_chunks(expect_string(v, syntax())), false);
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json example() const override { return "all DATA:Be,INIT"; }
  [[nodiscard]] std::size_t arguments() const override { return 2; }
  [[nodiscard]] Json schema() const override {
    return Json{{"type", "string"}, {"pattern", "^(all|any|only) "}};
  }
};

const ChunkTypesType kChunkTypesType;

class SctpMatch final : public Match {
 public:
  SctpMatch(TransportPorts ports, std::optional<ChunkTest> chunks, bool chunks_negated)
      : ports_(ports), chunks_(std::move(chunks)), chunks_negated_(chunks_negated) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    if (!transport_header_present(packet, kSctpHeaderBytes, state) || !ports_.passes(packet)) {
      return false;
    }
    if (!chunks_) return true;
    const std::optional<bool> listed = chunks_match(packet);
    if (!listed) {
      state.hotdrop = true;
      return false;
    }
    return *listed != chunks_negated_;
  }

  // "sctp dpt:80 ! any 0x0006:T,0x000E:t".
  void list(ListRow& row) const override {
    std::string text = "sctp" + ports_.list_text();
    if (chunks_) text += std::string(chunks_negated_ ? " ! " : " ") + chunks_text(*chunks_, true);
    row.add_extra(text);
  }

 private:
  // match_packet; nullopt for a chunk header cut short or of length 0.
  [[nodiscard]] std::optional<bool> chunks_match(const PacketView& packet) const {
    const std::span<const std::uint8_t> b =
        packet.bytes.first(std::min<std::size_t>(packet.bytes.size(), packet.length));
    std::bitset<256> missing = chunks_->types;
    std::size_t at = packet.transport_offset + kSctpHeaderBytes;
    do {
      if (at + kChunkHeaderBytes > b.size()) return std::nullopt;
      const std::uint8_t type = b[at];
      const std::uint8_t flags = b[at + 1];
      const std::size_t length = static_cast<std::size_t>(b[at + 2]) << 8U | b[at + 3];
      if (length == 0) return std::nullopt;
      at += (length + 3) & ~std::size_t{3};
      const bool flags_pass = chunks_->flags_pass(type, flags);
      if (chunks_->types.test(type)) {
        if (chunks_->mode == ChunkMode::kAny && flags_pass) return true;
        if (chunks_->mode == ChunkMode::kAll && flags_pass) missing.reset(type);
        if (chunks_->mode == ChunkMode::kOnly && !flags_pass) return false;
      } else if (chunks_->mode == ChunkMode::kOnly) {
        return false;
      }
    } while (at < b.size());
    switch (chunks_->mode) {
      case ChunkMode::kAll:
        return missing.none();
      case ChunkMode::kAny:
        return false;
      case ChunkMode::kOnly:
        return true;
    }
    return false;
  }

  TransportPorts ports_;
  std::optional<ChunkTest> chunks_;
  bool chunks_negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  std::optional<ChunkTest> chunks;
  if (options.has("chunk_types")) chunks = parse_chunks(options.get<std::string>("chunk_types"));
  return std::make_unique<SctpMatch>(TransportPorts::from(options), std::move(chunks),
                                     options.negated("chunk_types"));
}

const std::array<OptionSpec, 3> kOptions = {
    source_port_option(), destination_port_option(),
    OptionSpec{.key = "chunk_types",
               .flag = "--chunk-types",
               .type = &kChunkTypesType,
               .negatable = true,
               .doc = "the packet's chunks: \"all TYPES\" (each is present), \"any TYPES\" (one "
                      "is) or \"only TYPES\" (no other is); a type's flags follow a colon, upper "
                      "case set and lower case clear (\"DATA:Be\")"}};

const MatchRegistrar kRegistrar({.name = "sctp",
                                 .summary = "SCTP ports and chunk types (implied by "
                                            "\"protocol\": \"sctp\")",
                                 .options = kOptions,
                                 .protocols = kProtocols,
                                 .implied = true,
                                 .build = build});

}  // namespace

}  // namespace verdictd
