#include "packet/log_line.hpp"

#include <array>
#include <utility>

#include "packet/byte_order.hpp"
#include "packet/ipv6_extension.hpp"
#include "packet/packet.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kAuthHeader = 12;
constexpr std::size_t kEspHeader = 8;

// The bytes of the packet and the line being written, as the kernel's
// nf_log_buf. `bytes.size()` stands for skb->len: NFQUEUE copies the whole
// packet (up to the queue's copy range).
class Line {
 public:
  Line(std::span<const std::uint8_t> bytes, const LogLineInput& input)
      : bytes_(bytes), input_(&input) {}

  [[nodiscard]] bool has(std::size_t at, std::size_t length) const {
    return at <= bytes_.size() && length <= bytes_.size() - at;
  }
  [[nodiscard]] std::uint8_t u8(std::size_t at) const { return bytes_[at]; }
  [[nodiscard]] std::uint16_t u16(std::size_t at) const { return read16(bytes_, at); }
  [[nodiscard]] std::uint32_t u32(std::size_t at) const { return read32(bytes_, at); }
  [[nodiscard]] const LogLineInput& input() const { return *input_; }
  [[nodiscard]] bool flag(std::uint8_t f) const { return (input_->flags & f) != 0; }

  void add(std::string_view text) { out_ += text; }
  void number(std::uint64_t value) { out_ += std::to_string(value); }
  // `value` in hex, at least `width` digits: printf's %02X, %02x, %08x, %x.
  void hex(std::uint32_t value, int width, bool upper = false) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::array<char, 8> text{};
    int length = 0;
    do {
      text[static_cast<std::size_t>(length++)] = digits[value & 0xfU];
      value >>= 4;
    } while (value != 0);
    for (; length < width; ++length) text[static_cast<std::size_t>(length)] = '0';
    while (length > 0) out_ += text[static_cast<std::size_t>(--length)];
  }
  // "KEY=value "
  void field(std::string_view key, std::uint64_t value) {
    add(key);
    number(value);
    add(" ");
  }
  // "INCOMPLETE [N bytes] ": N = skb->len - at, in the kernel's unsigned arithmetic.
  void incomplete(std::size_t at, std::string_view tail = " ") {
    add("INCOMPLETE [");
    number(static_cast<std::uint32_t>(bytes_.size() - at));
    add(" bytes]");
    add(tail);
  }
  // The bytes [at, at + length) as upper-case hex pairs, as the OPT ( ) fields.
  void hex_bytes(std::size_t at, std::size_t length) {
    for (std::size_t i = 0; i < length; ++i) hex(bytes_[at + i], 2, true);
  }
  // %pI4
  void ipv4_address(std::size_t at) {
    for (std::size_t i = 0; i < 4; ++i) {
      if (i != 0) add(".");
      number(bytes_[at + i]);
    }
  }
  // %pI6: eight groups of four lower-case hex digits, nothing left out.
  void ipv6_address(std::size_t at) {
    for (std::size_t i = 0; i < 16; i += 2) {
      if (i != 0) add(":");
      hex(u16(at + i), 4);
    }
  }
  // `count` bytes of the link-layer header from `at`, as "%02x:%02x...":
  // dump_mac_header's MAC=, and %pM for six.
  void link_bytes(std::size_t at, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      if (i != 0) add(":");
      hex((*input_->link_header)[at + i], 2);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::span<const std::uint8_t> bytes_;
  const LogLineInput* input_;
  std::string out_;
};

// The socket's owner and the mark, after the outermost header only.
void socket_and_mark(Line& line) {
  if (line.flag(logflag::kUid) && line.input().owner) {
    line.field("UID=", line.input().owner->uid);
    line.field("GID=", line.input().owner->gid);
  }
  if (line.input().mark != 0) {
    line.add("MARK=0x");
    line.hex(line.input().mark, 1);
    line.add(" ");
  }
}

// nf_log_dump_tcp_header; false when the line ends here.
bool tcp_header(Line& line, bool fragment, std::size_t at) {
  line.add("PROTO=TCP ");
  if (fragment) return true;
  if (!line.has(at, kTcpHeader)) {
    line.incomplete(at);
    return false;
  }
  line.field("SPT=", line.u16(at));
  line.field("DPT=", line.u16(at + 2));
  if (line.flag(logflag::kTcpSequence)) {
    line.field("SEQ=", line.u32(at + 4));
    line.field("ACK=", line.u32(at + 8));
  }
  line.field("WINDOW=", line.u16(at + 14));
  const std::uint8_t offset_byte = line.u8(at + 12);
  // TCP_RESERVED_BITS is the three bits above AE, shifted as the kernel
  // shifts the flag word (>> 22).
  line.add("RES=0x");
  line.hex(static_cast<std::uint32_t>(offset_byte & 0x0eU) << 2, 2);
  line.add(" ");
  if ((offset_byte & 0x01U) != 0) line.add("AE ");
  const std::uint8_t flags = line.u8(at + 13);
  constexpr std::array<std::pair<std::uint8_t, std::string_view>, 8> kFlags = {{
      {tcpflag::kCwr, "CWR "},
      {tcpflag::kEce, "ECE "},
      {tcpflag::kUrg, "URG "},
      {tcpflag::kAck, "ACK "},
      {tcpflag::kPsh, "PSH "},
      {tcpflag::kRst, "RST "},
      {tcpflag::kSyn, "SYN "},
      {tcpflag::kFin, "FIN "},
  }};
  for (const auto& [bit, name] : kFlags) {
    if ((flags & bit) != 0) line.add(name);
  }
  line.field("URGP=", line.u16(at + 18));
  const std::size_t header = static_cast<std::size_t>(offset_byte >> 4) * 4;
  if (line.flag(logflag::kTcpOptions) && header > kTcpHeader) {
    if (!line.has(at + kTcpHeader, header - kTcpHeader)) {
      line.add("OPT (TRUNCATED)");
      return false;
    }
    line.add("OPT (");
    line.hex_bytes(at + kTcpHeader, header - kTcpHeader);
    line.add(") ");
  }
  return true;
}

// nf_log_dump_udp_header; false when the line ends here.
bool udp_header(Line& line, std::uint8_t protocol, bool fragment, std::size_t at) {
  line.add(protocol == ipproto::kUdp ? "PROTO=UDP " : "PROTO=UDPLITE ");
  if (fragment) return true;
  if (!line.has(at, kUdpHeader)) {
    line.incomplete(at);
    return false;
  }
  line.field("SPT=", line.u16(at));
  line.field("DPT=", line.u16(at + 2));
  line.field("LEN=", line.u16(at + 4));
  return true;
}

// The bytes of an ICMP message of each type below which the kernel calls it
// INCOMPLETE (dump_ipv4_packet's required_len); 0: any length.
std::size_t icmp_required_length(std::uint8_t type) {
  switch (type) {
    case 0:  // echo reply
    case 8:  // echo request
      return 4;
    case 3:   // destination unreachable
    case 4:   // source quench
    case 5:   // redirect
    case 11:  // time exceeded
    case 12:  // parameter problem
      return kIcmpHeader + kIpv4Header;
    case 13:  // timestamp
    case 14:  // timestamp reply
      return 20;
    case 17:  // address mask request
    case 18:  // address mask reply
      return 12;
    default:
      return 0;
  }
}

void dump_ipv4(Line& line, std::size_t at, std::uint32_t whole_length);

// The ICMP part of dump_ipv4_packet: type, code, the fields of the type, and
// an error's quoted packet in brackets (one level deep).
void icmp_message(Line& line, bool outermost, bool fragment, std::size_t at) {
  line.add("PROTO=ICMP ");
  if (fragment) return;
  if (!line.has(at, kIcmpHeader)) {
    line.incomplete(at);
    return;
  }
  const std::uint8_t type = line.u8(at);
  const std::uint8_t code = line.u8(at + 1);
  line.field("TYPE=", type);
  line.field("CODE=", code);
  const std::size_t required = icmp_required_length(type);
  if (required != 0 && !line.has(at, required)) {
    line.incomplete(at);
    return;
  }
  switch (type) {
    case 0:
    case 8:
      line.field("ID=", line.u16(at + 4));
      line.field("SEQ=", line.u16(at + 6));
      return;
    case 12:
      line.field("PARAMETER=", line.u8(at + 4));
      return;
    case 5:
      line.add("GATEWAY=");
      line.ipv4_address(at + 4);
      line.add(" ");
      [[fallthrough]];
    case 3:
    case 4:
    case 11:
      if (outermost) {
        line.add("[");
        dump_ipv4(line, at + kIcmpHeader, 0);
        line.add("] ");
      }
      if (type == 3 && code == 4) line.field("MTU=", line.u16(at + 6));
      return;
    default:
      return;
  }
}

// An AH or ESP header's SPI (dump_ipv4_packet).
void ipsec_header(Line& line, std::uint8_t protocol, bool fragment, std::size_t at) {
  if (protocol == ipproto::kAh) {
    if (fragment) return;
    line.add("PROTO=AH ");
  } else {
    line.add("PROTO=ESP ");
    if (fragment) return;
  }
  if (!line.has(at, protocol == ipproto::kAh ? kAuthHeader : kEspHeader)) {
    line.incomplete(at);
    return;
  }
  line.add("SPI=0x");
  line.hex(line.u32(at + (protocol == ipproto::kAh ? 4 : 0)), 1);
  line.add(" ");
}

// dump_ipv4_packet. `at` 0 is the packet itself, else an ICMP error's quote.
// `whole_length` stands in for a total length of 0 (a GSO packet over 64 KiB).
void dump_ipv4(Line& line, std::size_t at, std::uint32_t whole_length) {
  if (!line.has(at, kIpv4Header)) {
    line.add("TRUNCATED");
    return;
  }
  const bool outermost = at == 0;
  line.add("SRC=");
  line.ipv4_address(at + 12);
  line.add(" DST=");
  line.ipv4_address(at + 16);
  line.add(" ");
  const std::uint16_t total = line.u16(at + 2);
  line.field("LEN=", total != 0 ? total : whole_length);
  const std::uint8_t tos = line.u8(at + 1);
  line.add("TOS=0x");
  line.hex(tos & 0x1eU, 2, true);
  line.add(" PREC=0x");
  line.hex(tos & 0xe0U, 2, true);
  line.add(" ");
  line.field("TTL=", line.u8(at + 8));
  line.field("ID=", line.u16(at + 4));
  const std::uint16_t fragment_word = line.u16(at + 6);
  if ((fragment_word & 0x8000U) != 0) line.add("CE ");
  if ((fragment_word & 0x4000U) != 0) line.add("DF ");
  if ((fragment_word & 0x2000U) != 0) line.add("MF ");
  const std::uint16_t offset = fragment_word & 0x1fffU;
  if (offset != 0) {
    line.add("FRAG:");
    line.number(offset);
    line.add(" ");
  }
  const std::size_t header = static_cast<std::size_t>(line.u8(at) & 0x0fU) * 4;
  if (line.flag(logflag::kIpOptions) && header > kIpv4Header) {
    if (!line.has(at + kIpv4Header, header - kIpv4Header)) {
      line.add("TRUNCATED");
      return;
    }
    line.add("OPT (");
    line.hex_bytes(at + kIpv4Header, header - kIpv4Header);
    line.add(") ");
  }
  const std::uint8_t protocol = line.u8(at + 9);
  const bool fragment = offset != 0;
  const std::size_t transport = at + header;
  switch (protocol) {
    case ipproto::kTcp:
      if (!tcp_header(line, fragment, transport)) return;
      break;
    case ipproto::kUdp:
    case ipproto::kUdplite:
      if (!udp_header(line, protocol, fragment, transport)) return;
      break;
    case ipproto::kIcmp:
      icmp_message(line, outermost, fragment, transport);
      break;
    case ipproto::kAh:
    case ipproto::kEsp:
      ipsec_header(line, protocol, fragment, transport);
      break;
    default:
      line.field("PROTO=", protocol);
  }
  if (outermost) socket_and_mark(line);
}

// nf_ip6_ext_hdr, less NEXTHDR_NONE, which ends the walk.
bool is_extension_header(std::uint8_t next) {
  return next == 0 || next == 43 || next == 44 || next == ipproto::kEsp || next == ipproto::kAh ||
         next == 60;
}

void dump_ipv6(Line& line, std::size_t at, bool outermost);

// The ICMPv6 part of dump_ipv6_packet; false when the line ends here.
bool icmpv6_message(Line& line, bool outermost, bool fragment, std::size_t at) {
  line.add("PROTO=ICMPv6 ");
  if (fragment) return true;
  if (!line.has(at, kIcmpHeader)) {
    line.incomplete(at);
    return false;
  }
  const std::uint8_t type = line.u8(at);
  line.field("TYPE=", type);
  line.field("CODE=", line.u8(at + 1));
  switch (type) {
    case 128:  // echo request
    case 129:  // echo reply
      line.field("ID=", line.u16(at + 4));
      line.field("SEQ=", line.u16(at + 6));
      return true;
    case 4:  // parameter problem
      line.add("POINTER=");
      line.hex(line.u32(at + 4), 8);
      line.add(" ");
      [[fallthrough]];
    case 1:  // destination unreachable
    case 2:  // packet too big
    case 3:  // time exceeded
      if (outermost) {
        line.add("[");
        dump_ipv6(line, at + kIcmpHeader, false);
        line.add("] ");
      }
      if (type == 2) line.field("MTU=", line.u32(at + 4));
      return true;
    default:
      return true;
  }
}

// The extension headers of dump_ipv6_packet. Returns false when the line
// ends here, else where the upper-layer header starts, its protocol and
// whether the packet is a fragment other than the first.
struct Upper {
  std::size_t at = 0;
  std::uint8_t protocol = 0;
  bool fragment = false;
};
bool extension_headers(Line& line, Upper& upper) {
  const bool options = line.flag(logflag::kIpOptions);
  while (upper.protocol != 59 && is_extension_header(upper.protocol)) {
    if (!line.has(upper.at, 2)) {
      line.add("TRUNCATED");
      return false;
    }
    if (options) line.add("OPT ( ");
    std::size_t length = 0;
    switch (upper.protocol) {
      case 44: {
        line.add("FRAG:");
        if (!line.has(upper.at, 8)) {
          line.add("TRUNCATED ");
          return false;
        }
        const std::uint16_t fragment_word = line.u16(upper.at + 2);
        line.number(fragment_word & 0xfff8U);
        line.add(" ");
        if ((fragment_word & 0x0001U) != 0) line.add("INCOMPLETE ");
        line.add("ID:");
        line.hex(line.u32(upper.at + 4), 8);
        line.add(" ");
        if ((fragment_word & 0xfff8U) != 0) upper.fragment = true;
        length = 8;
        break;
      }
      case ipproto::kAh:
        if (options) {
          line.add("AH ");
          if (upper.fragment) {
            line.add(")");
            return false;
          }
          if (!line.has(upper.at, kAuthHeader)) {
            line.incomplete(upper.at, " )");
            return false;
          }
          line.add("SPI=0x");
          line.hex(line.u32(upper.at + 4), 1);
          line.add(" ");
        }
        length = (std::size_t{line.u8(upper.at + 1)} + 2) * 4;
        break;
      case ipproto::kEsp:
        if (options) {
          line.add("ESP ");
          if (upper.fragment) {
            line.add(")");
            return false;
          }
          if (!line.has(upper.at, kEspHeader)) {
            line.incomplete(upper.at, " )");
            return false;
          }
          line.add("SPI=0x");
          line.hex(line.u32(upper.at), 1);
          line.add(" )");
        }
        return false;
      default:  // hop-by-hop, routing, destination options
        if (upper.fragment) {
          if (options) line.add(")");
          return false;
        }
        length = (std::size_t{line.u8(upper.at + 1)} + 1) * 8;
    }
    if (options) line.add(") ");
    upper.protocol = line.u8(upper.at);
    upper.at += length;
  }
  return true;
}

// dump_mac_header, for the devices link_header.hpp knows: Ethernet and
// loopback have a 14-byte header (hard_header_len), any other is taken to
// have none, as a tunnel without one (tun, WireGuard).
void mac_header(Line& line) {
  const LogLineInput& input = line.input();
  const auto& header = input.link_header;
  if (line.flag(logflag::kMacDecode) && input.device == LinkKind::kEthernet) {
    // Without a header of 14 bytes an Ethernet device's line says nothing.
    if (!header) return;
    line.add("MACSRC=");
    line.link_bytes(6, 6);
    line.add(" MACDST=");
    line.link_bytes(0, 6);
    line.add(" MACPROTO=");
    line.hex((std::uint32_t{(*header)[12]} << 8) | (*header)[13], 4);
    line.add(" ");
    return;
  }
  line.add("MAC=");
  if (header && input.device != LinkKind::kOther) line.link_bytes(0, header->size());
  line.add(" ");
}

// dump_ipv6_packet; `outermost` is its `recurse`.
void dump_ipv6(Line& line, std::size_t at, bool outermost) {
  if (!line.has(at, kIpv6Header)) {
    line.add("TRUNCATED");
    return;
  }
  line.add("SRC=");
  line.ipv6_address(at + 8);
  line.add(" DST=");
  line.ipv6_address(at + 24);
  line.add(" ");
  const std::uint32_t first_word = line.u32(at);
  line.field("LEN=", std::size_t{line.u16(at + 4)} + kIpv6Header);
  line.field("TC=", (first_word & 0x0ff00000U) >> 20);
  line.field("HOPLIMIT=", line.u8(at + 7));
  line.field("FLOWLBL=", first_word & 0x000fffffU);
  Upper upper{.at = at + kIpv6Header, .protocol = line.u8(at + 6)};
  if (!extension_headers(line, upper)) return;
  switch (upper.protocol) {
    case ipproto::kTcp:
      if (!tcp_header(line, upper.fragment, upper.at)) return;
      break;
    case ipproto::kUdp:
    case ipproto::kUdplite:
      if (!udp_header(line, upper.protocol, upper.fragment, upper.at)) return;
      break;
    case ipproto::kIcmpv6:
      if (!icmpv6_message(line, outermost, upper.fragment, upper.at)) return;
      break;
    default:
      line.field("PROTO=", upper.protocol);
  }
  if (outermost) socket_and_mark(line);
}

}  // namespace

std::string log_line(std::span<const std::uint8_t> packet, Family family,
                     const LogLineInput& input) {
  Line line(packet, input);
  // nf_log_dump_packet_common
  line.add(input.prefix);
  line.add("IN=");
  line.add(input.in_interface);
  line.add(" OUT=");
  line.add(input.out_interface);
  line.add(" ");
  if (input.has_input_device) mac_header(line);
  if (family == Family::kIPv4) {
    dump_ipv4(line, 0, static_cast<std::uint32_t>(packet.size()));
  } else {
    dump_ipv6(line, 0, true);
  }
  return line.take();
}

}  // namespace verdictd
