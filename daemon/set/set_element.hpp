// One element of a set as ipset writes it ("10.0.0.0/8", "192.0.2.1,tcp:80",
// "10.0.0.0/8,eth0") with its options ("timeout 600 nomatch packets 1 bytes
// 60 comment \"x\""), and its encoding as the words a set hashes: the first
// address (masked to its prefix), then each further dimension.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "packet/address.hpp"
#include "set/set_type.hpp"

namespace verdictd {

inline constexpr std::size_t kMaxKeyWords = 5;  // hash:ip,port,ip over IPv6
using SetKey = std::array<std::uint64_t, kMaxKeyWords>;

// An element that cannot be read: `offset` is where in the text it went wrong.
struct ElementError : std::runtime_error {
  ElementError(const std::string& message, std::size_t at)
      : std::runtime_error(message), offset(at) {}
  std::size_t offset;
};

struct SetElement {
  SetKey key{};
  std::uint8_t cidr = 0;                 // of the first address; the host length for the ip types
  std::optional<std::uint32_t> timeout;  // seconds; 0: never expires
  bool nomatch = false;
  std::optional<std::string> comment;
  std::optional<std::uint64_t> packets;
  std::optional<std::uint64_t> bytes;
  // An element written as many, as ipset takes them for add and del: the
  // first address runs up to `last_address` (IPv4 "FROM-TO", or a network
  // of an ip type), the port dimension up to `last_port` ("tcp:80-90").
  // ElementCodec::for_each_element visits the elements they stand for.
  std::optional<std::uint32_t> last_address;
  std::optional<std::uint16_t> last_port;
  [[nodiscard]] bool ranged() const { return last_address || last_port; }
};

// The options ipset writes after an element ("timeout 5 nomatch packets 1
// bytes 60 comment \"x\"") from `text`, which stands at `offset` of the
// line; nomatch only where `nomatch_allowed` (the net types). Throws
// ElementError.
void parse_element_options(std::string_view text, std::size_t offset, bool nomatch_allowed,
                           SetElement& element);

// How the elements of one type and family are written and hashed.
class ElementCodec {
 public:
  ElementCodec(const SetType& type, Family family, std::uint8_t netmask);

  [[nodiscard]] const SetType& type() const { return *type_; }
  [[nodiscard]] Family family() const { return family_; }
  [[nodiscard]] std::size_t words() const { return words_; }
  // Words of the first address: 1 (IPv4), 2 (IPv6), 0 for types without one.
  [[nodiscard]] std::size_t address_words() const { return address_words_; }
  // The longest prefix of the first address: 32 or 128 (0 without one).
  [[nodiscard]] std::uint8_t host_length() const { return host_length_; }
  // The prefix every element of a type without networks has (hash:ip's netmask).
  [[nodiscard]] std::uint8_t fixed_length() const { return fixed_length_; }

  // "10.0.0.0/8,tcp:80"; throws ElementError.
  [[nodiscard]] SetElement parse_key(std::string_view text) const;
  // The key text followed by options as ipset writes them after it.
  void parse_options(std::string_view text, std::size_t offset, SetElement& element) const;
  // A whole line's element: the key text, then options after white space.
  [[nodiscard]] SetElement parse(std::string_view text) const;
  // The elements a ranged one stands for (itself when not ranged), in
  // order: a range of a net type as the fewest prefixes that cover it
  // exactly (ip_set_range_to_cidr), of an ip type as each block of its
  // netmask; each port of a port range. Stops when `visit` returns false.
  void for_each_element(const SetElement& element,
                        const std::function<bool(const SetElement&)>& visit) const;
  // The key as ipset lists it.
  [[nodiscard]] std::string text(std::span<const std::uint64_t> key, std::uint8_t cidr) const;

  // The first address's words masked to `cidr`, in place.
  void mask(std::uint64_t* key, std::uint8_t cidr) const;
  // The address's words, written from key[at].
  void put_address(const IpAddress& address, std::uint64_t* key) const;

 private:
  const SetType* type_;
  Family family_;
  std::size_t words_ = 0;
  std::size_t address_words_ = 0;
  std::uint8_t host_length_ = 0;
  std::uint8_t fixed_length_ = 0;
  std::size_t port_word_ = 0;  // the key word of the port dimension, if any

  [[nodiscard]] IpAddress parse_address(std::string_view text, std::size_t offset) const;
};

// The word a port dimension is stored as: protocol and port.
constexpr std::uint64_t port_word(std::uint8_t protocol, std::uint16_t port) {
  return (std::uint64_t{protocol} << 16) | port;
}

}  // namespace verdictd
