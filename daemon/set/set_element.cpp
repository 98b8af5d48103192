#include "set/set_element.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "extension/system_names.hpp"
#include "packet/packet.hpp"
#include "packet/protocol_names.hpp"
#include "text/decimal.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kInterfaceWords = 2;  // IFNAMSIZ bytes
constexpr std::size_t kMaxInterfaceName = 15;
constexpr std::size_t kMacBytes = 6;

std::size_t dimension_words(Dimension d, Family family) {
  switch (d) {
    case Dimension::kAddress:
      return family == Family::kIPv4 ? 1 : 2;
    case Dimension::kInterface:
      return kInterfaceWords;
    case Dimension::kPort:
    case Dimension::kMac:
    case Dimension::kBarePort:
      return 1;
  }
  return 0;
}

// The text's dimensions, split at commas, with their offsets.
struct Part {
  std::string_view text;
  std::size_t offset;
};

// A port number, or a service name as ipset takes it ("ssh").
std::uint16_t parse_port(std::string_view text, std::size_t offset) {
  std::optional<std::uint16_t> port = parse_decimal<std::uint16_t>(text);
  if (!port && !text.empty()) port = service_port(std::string(text));
  if (!port) {
    throw ElementError(
        "expected a port 0-65535 or a service name, got \"" + std::string(text) + "\"", offset);
  }
  return *port;
}

// "LOW-HIGH" into `element.last_port`, returning LOW; or one port.
std::uint16_t parse_port_range(std::string_view text, std::size_t offset, SetElement& element) {
  const std::size_t dash = text.find('-');
  const std::uint16_t low = parse_port(text.substr(0, dash), offset);
  if (dash == std::string_view::npos) return low;
  const std::uint16_t high = parse_port(text.substr(dash + 1), offset + dash + 1);
  if (high < low) {
    throw ElementError("the port range " + std::string(text) + " ends before it begins", offset);
  }
  element.last_port = high;
  return low;
}

// "[proto:]port" or "[proto:]low-high": tcp by default; ICMP's
// "type/code"; a protocol without ports takes port 0 ("gre:0").
std::uint64_t parse_proto_port(std::string_view text, std::size_t offset, Family family,
                               SetElement& element) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return port_word(ipproto::kTcp, parse_port_range(text, offset, element));
  }
  const std::string_view name = text.substr(0, colon);
  const std::string_view rest = text.substr(colon + 1);
  std::optional<std::uint8_t> protocol = protocol_by_name(name);
  if (!protocol) protocol = parse_decimal<std::uint8_t>(name);
  if (!protocol || *protocol == 0) {
    throw ElementError("unknown protocol \"" + std::string(name) + "\"", offset);
  }
  const bool icmp =
      family == Family::kIPv4 ? *protocol == ipproto::kIcmp : *protocol == ipproto::kIcmpv6;
  if (icmp) {
    const std::size_t slash = rest.find('/');
    const auto type = parse_decimal<std::uint8_t>(rest.substr(0, slash));
    const auto code = slash == std::string_view::npos
                          ? std::optional<std::uint8_t>(0)
                          : parse_decimal<std::uint8_t>(rest.substr(slash + 1));
    if (!type || !code) {
      throw ElementError("expected an ICMP type/code, got \"" + std::string(rest) + "\"",
                         offset + colon + 1);
    }
    return port_word(*protocol, static_cast<std::uint16_t>((*type << 8) | *code));
  }
  const std::uint16_t port = parse_port_range(rest, offset + colon + 1, element);
  const bool with_ports = *protocol == ipproto::kTcp || *protocol == ipproto::kUdp ||
                          *protocol == ipproto::kSctp || *protocol == ipproto::kUdplite;
  if (!with_ports && (port != 0 || element.last_port)) {
    throw ElementError(
        "protocol " + std::string(name) + " has no ports: write " + std::string(name) + ":0",
        offset + colon + 1);
  }
  return port_word(*protocol, port);
}

std::uint64_t parse_mac(std::string_view text, std::size_t offset) {
  std::uint64_t word = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < kMacBytes; ++i) {
    std::uint8_t value = 0;
    const bool hex = text.size() >= at + 2 &&
                     std::from_chars(text.data() + at, text.data() + at + 2, value, 16).ptr ==
                         text.data() + at + 2;
    if (!hex || (i + 1 < kMacBytes && (text.size() <= at + 2 || text[at + 2] != ':'))) {
      throw ElementError(
          "expected a MAC address aa:bb:cc:dd:ee:ff, got \"" + std::string(text) + "\"", offset);
    }
    word = (word << 8) | value;
    at += 3;
  }
  if (at - 1 != text.size()) {
    throw ElementError(
        "expected a MAC address aa:bb:cc:dd:ee:ff, got \"" + std::string(text) + "\"", offset);
  }
  return word;
}

std::string address_text(std::span<const std::uint64_t> words, Family family) {
  std::array<std::uint8_t, 16> bytes{};
  if (family == Family::kIPv4) {
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(words[0] >> (24 - 8 * i));
    return IpAddress::from_v4(bytes.data()).to_string();
  }
  for (int i = 0; i < 16; ++i) {
    bytes[i] = static_cast<std::uint8_t>(words[i / 8] >> (56 - 8 * (i % 8)));
  }
  return IpAddress::from_v6(bytes.data()).to_string();
}

}  // namespace

ElementCodec::ElementCodec(const SetType& type, Family family, std::uint8_t netmask)
    : type_(&type), family_(family) {
  for (std::size_t d = 0; d < type.dimension_count; ++d) {
    const Dimension dimension = type.dimensions[d];
    if (dimension == Dimension::kPort || dimension == Dimension::kBarePort) port_word_ = words_;
    words_ += dimension_words(dimension, family);
  }
  if (type.has_family) {
    address_words_ = family == Family::kIPv4 ? 1 : 2;
    host_length_ = family == Family::kIPv4 ? 32 : 128;
    fixed_length_ = netmask != 0 ? netmask : host_length_;
  }
}

void ElementCodec::put_address(const IpAddress& address, std::uint64_t* key) const {
  if (family_ == Family::kIPv4) {
    key[0] = (std::uint64_t{address.bytes[0]} << 24) | (std::uint64_t{address.bytes[1]} << 16) |
             (std::uint64_t{address.bytes[2]} << 8) | address.bytes[3];
    return;
  }
  key[0] = 0;
  key[1] = 0;
  for (std::size_t i = 0; i < 16; ++i) key[i / 8] = (key[i / 8] << 8) | address.bytes[i];
}

void ElementCodec::mask(std::uint64_t* key, std::uint8_t cidr) const {
  if (family_ == Family::kIPv4) {
    key[0] &= cidr == 0 ? 0 : (0xffffffffULL << (32 - cidr)) & 0xffffffffULL;
    return;
  }
  for (std::size_t w = 0; w < 2; ++w) {
    const int bits = std::clamp(static_cast<int>(cidr) - static_cast<int>(64 * w), 0, 64);
    key[w] &= bits == 0 ? 0 : ~0ULL << (64 - bits);
  }
}

IpAddress ElementCodec::parse_address(std::string_view text, std::size_t offset) const {
  const std::optional<IpAddress> address = IpAddress::parse(text);
  if (!address || address->family != family_) {
    throw ElementError(std::string("expected an ") + (family_ == Family::kIPv4 ? "IPv4" : "IPv6") +
                           " address, got \"" + std::string(text) + "\"",
                       offset);
  }
  return *address;
}

void ElementCodec::for_each_element(const SetElement& element,
                                    const std::function<bool(const SetElement&)>& visit) const {
  if (!element.ranged()) {
    visit(element);
    return;
  }
  SetElement one = element;
  one.last_address.reset();
  one.last_port.reset();
  const std::uint64_t first_port = element.key[port_word_] & 0xffffU;
  const std::uint64_t last_port = element.last_port.value_or(first_port);
  const std::uint64_t protocol_bits = element.key[port_word_] & ~std::uint64_t{0xffff};
  // Each address block with each port; false when `visit` stopped.
  const auto with_ports = [&](std::uint64_t address, std::uint8_t cidr) {
    one.key[0] = address;
    one.cidr = cidr;
    for (std::uint64_t port = first_port; port <= last_port; ++port) {
      if (element.last_port) one.key[port_word_] = protocol_bits | port;
      if (!visit(one)) return false;
    }
    return true;
  };
  if (!element.last_address) {
    with_ports(element.key[0], element.cidr);
    return;
  }
  const std::uint64_t last = *element.last_address;
  for (std::uint64_t at = element.key[0]; at <= last;) {
    std::uint8_t cidr = fixed_length_;
    if (type_->networks) {
      // The shortest prefix starting at `at` that ends within the range.
      cidr = 1;
      while (cidr < host_length_ &&
             ((at & ((std::uint64_t{1} << (host_length_ - cidr)) - 1)) != 0 ||
              at + (std::uint64_t{1} << (host_length_ - cidr)) - 1 > last)) {
        ++cidr;
      }
    }
    if (!with_ports(at, cidr)) return;
    at += std::uint64_t{1} << (host_length_ - cidr);
  }
}

SetElement ElementCodec::parse_key(std::string_view text) const {
  std::array<Part, kMaxDimensions> parts{};
  std::size_t count = 0;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    if (count == kMaxDimensions) {
      throw ElementError("too many dimensions for " + std::string(type_->name), start);
    }
    parts[count++] = {text.substr(start, comma - start), start};
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (count != type_->dimension_count) {
    throw ElementError("expected an element of " + std::string(type_->name) + " (" +
                           std::to_string(type_->dimension_count) +
                           " parts separated by commas), got \"" + std::string(text) + "\"",
                       0);
  }
  SetElement element;
  element.cidr = fixed_length_;
  std::size_t word = 0;
  for (std::size_t d = 0; d < count; ++d) {
    const auto [part, offset] = parts[d];
    switch (type_->dimensions[d]) {
      case Dimension::kAddress: {
        // The first address of an IPv4 set may stand for many (add, del).
        const bool may_be_many = d == 0 && family_ == Family::kIPv4;
        const std::size_t dash = may_be_many ? part.find('-') : std::string_view::npos;
        const std::size_t slash = part.find('/');
        const std::string_view address_part = part.substr(0, std::min(slash, dash));
        put_address(parse_address(address_part, offset), &element.key[word]);
        if (dash != std::string_view::npos) {
          const std::size_t to_at = offset + dash + 1;
          std::uint64_t last = 0;
          put_address(parse_address(part.substr(dash + 1), to_at), &last);
          if (last < element.key[word]) {
            throw ElementError("the range " + std::string(part) + " ends before it begins", offset);
          }
          element.last_address = static_cast<std::uint32_t>(last);
          if (type_->networks) element.cidr = host_length_;
        } else if (slash != std::string_view::npos) {
          const bool net = d == 0 && type_->networks;
          const auto length = parse_decimal<std::uint8_t>(part.substr(slash + 1));
          if (!net && !may_be_many) {
            throw ElementError(
                std::string(type_->name) + " takes single addresses, without a prefix length",
                offset + slash);
          }
          if (!length || *length == 0 || *length > host_length_) {
            throw ElementError("expected a prefix length 1-" + std::to_string(host_length_) +
                                   ", got \"" + std::string(part.substr(slash + 1)) + "\"",
                               offset + slash + 1);
          }
          if (net) {
            element.cidr = *length;
          } else {
            // An ip type's network: each of its addresses (netmask blocks).
            mask(&element.key[word], *length);
            element.last_address =
                static_cast<std::uint32_t>(element.key[word] | (0xffffffffU >> *length));
          }
        }
        if (d == 0) mask(&element.key[word], element.cidr);
        word += address_words_;
        break;
      }
      case Dimension::kPort:
        element.key[word++] = parse_proto_port(part, offset, family_, element);
        break;
      case Dimension::kBarePort:
        element.key[word++] = parse_port_range(part, offset, element);
        break;
      case Dimension::kMac:
        element.key[word++] = parse_mac(part, offset);
        break;
      case Dimension::kInterface: {
        if (part.empty() || part.size() > kMaxInterfaceName || part.starts_with("physdev:")) {
          throw ElementError(
              "expected an interface name of 1-15 characters, got \"" + std::string(part) + "\"",
              offset);
        }
        std::array<char, kInterfaceWords * 8> name{};
        std::copy(part.begin(), part.end(), name.begin());
        std::memcpy(&element.key[word], name.data(), name.size());
        word += kInterfaceWords;
        break;
      }
    }
  }
  return element;
}

void ElementCodec::parse_options(std::string_view text, std::size_t offset,
                                 SetElement& element) const {
  parse_element_options(text, offset, type_->networks, element);
}

void parse_element_options(std::string_view text, std::size_t offset, bool nomatch_allowed,
                           SetElement& element) {
  std::size_t at = 0;
  const auto skip_space = [&] {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
  };
  const auto word = [&]() -> Part {
    skip_space();
    const std::size_t start = at;
    while (at < text.size() && text[at] != ' ' && text[at] != '\t') ++at;
    return {text.substr(start, at - start), offset + start};
  };
  const auto count = [&](std::string_view option) -> std::uint64_t {
    const Part value = word();
    const auto n = parse_decimal<std::uint64_t>(value.text);
    if (!n) {
      throw ElementError("expected a number after " + std::string(option) + ", got \"" +
                             std::string(value.text) + "\"",
                         value.offset);
    }
    return *n;
  };
  for (;;) {
    const Part option = word();
    if (option.text.empty()) return;
    if (option.text == "timeout") {
      const std::uint64_t seconds = count("timeout");
      if (seconds > 2147483) {
        throw ElementError("expected a timeout 0-2147483 seconds", option.offset);
      }
      element.timeout = static_cast<std::uint32_t>(seconds);
    } else if (option.text == "nomatch") {
      if (!nomatch_allowed) {
        throw ElementError("nomatch applies to the net types only", option.offset);
      }
      element.nomatch = true;
    } else if (option.text == "packets") {
      element.packets = count("packets");
    } else if (option.text == "bytes") {
      element.bytes = count("bytes");
    } else if (option.text == "comment") {
      skip_space();
      if (at >= text.size() || text[at] != '"') {
        throw ElementError("expected a quoted comment", offset + at);
      }
      const std::size_t close = text.find('"', at + 1);
      if (close == std::string_view::npos) {
        throw ElementError("the comment's quote is not closed", offset + at);
      }
      element.comment = std::string(text.substr(at + 1, close - at - 1));
      at = close + 1;
    } else {
      throw ElementError("unknown element option \"" + std::string(option.text) +
                             "\"; expected timeout, nomatch, packets, bytes or comment",
                         option.offset);
    }
  }
}

SetElement ElementCodec::parse(std::string_view text) const {
  const std::size_t space = text.find_first_of(" \t");
  SetElement element = parse_key(text.substr(0, space));
  if (space != std::string_view::npos) parse_options(text.substr(space), space, element);
  return element;
}

std::string ElementCodec::text(std::span<const std::uint64_t> key, std::uint8_t cidr) const {
  std::string out;
  std::size_t word = 0;
  for (std::size_t d = 0; d < type_->dimension_count; ++d) {
    if (d > 0) out += ',';
    switch (type_->dimensions[d]) {
      case Dimension::kAddress: {
        const std::size_t n = family_ == Family::kIPv4 ? 1 : 2;
        out += address_text(key.subspan(word, n), family_);
        if (d == 0 && type_->networks && cidr != host_length_) out += "/" + std::to_string(cidr);
        word += n;
        break;
      }
      case Dimension::kPort: {
        const auto protocol = static_cast<std::uint8_t>(key[word] >> 16);
        const auto port = static_cast<std::uint16_t>(key[word]);
        const bool icmp = protocol == ipproto::kIcmp || protocol == ipproto::kIcmpv6;
        out += (protocol == ipproto::kIcmpv6 ? std::string("icmpv6") : protocol_name(protocol)) +
               ":" +
               (icmp ? std::to_string(port >> 8) + "/" + std::to_string(port & 0xff)
                     : std::to_string(port));
        ++word;
        break;
      }
      case Dimension::kBarePort:
        out += std::to_string(key[word++]);
        break;
      case Dimension::kMac: {
        static constexpr std::string_view kHex = "0123456789ABCDEF";
        for (int i = 5; i >= 0; --i) {
          const auto byte = static_cast<std::uint8_t>(key[word] >> (8 * i));
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
          if (i > 0) out += ':';
        }
        ++word;
        break;
      }
      case Dimension::kInterface: {
        std::array<char, kInterfaceWords * 8> name{};
        std::memcpy(name.data(), &key[word], name.size());
        out += std::string(name.data(), strnlen(name.data(), name.size()));
        word += kInterfaceWords;
        break;
      }
    }
  }
  return out;
}

}  // namespace verdictd
