// A connection tuple as the kernel's conntrack builds it (nf_conntrack_tuple):
// addresses, protocol, and ports, or for ICMP the echo id and the type/code.
// A connection has two: the original direction's and the reply's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "packet/address.hpp"
#include "packet/packet.hpp"

namespace verdictd {

struct Tuple {
  Family family = Family::kIPv4;
  std::uint8_t protocol = 0;
  std::uint16_t zone = 0;
  IpAddress source;
  IpAddress destination;
  std::uint16_t source_port = 0;       // ICMP and ICMPv6: the echo id
  std::uint16_t destination_port = 0;  // ICMP and ICMPv6: type << 8 | code
  friend bool operator==(const Tuple&, const Tuple&) = default;
};

struct TupleHash {
  std::size_t operator()(const Tuple& t) const noexcept;
};

// The tuple of a packet, or nullopt when the headers it needs are missing
// (the kernel then gives the packet no connection: INVALID). Protocols the
// kernel tracks without ports (generic) get ports 0.
std::optional<Tuple> packet_tuple(const PacketView& packet);

// The tuple the answer carries: addresses and ports swapped; an ICMP query
// type becomes its reply type. nullopt for an ICMP type that has no reply,
// which the kernel cannot track.
std::optional<Tuple> reply_tuple(const Tuple& tuple);

// For an ICMP or ICMPv6 error: the tuple of the packet it quotes, read from
// the embedded header. nullopt when the packet is no error or the quote is cut
// short.
std::optional<Tuple> quoted_tuple(const PacketView& packet);

// "src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=22", as conntrack -L prints it
// ("type=8 code=0 id=7" for ICMP).
std::string tuple_text(const Tuple& tuple);

}  // namespace verdictd
