// How the kernel's ICMP and ICMPv6 trackers (nf_conntrack_proto_icmp.c,
// nf_conntrack_proto_icmpv6.c) treat each message type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "packet/address.hpp"

namespace verdictd {

namespace icmptype {
inline constexpr std::uint8_t kEchoReply = 0;
inline constexpr std::uint8_t kDestinationUnreachable = 3;
inline constexpr std::uint8_t kSourceQuench = 4;
inline constexpr std::uint8_t kRedirect = 5;
inline constexpr std::uint8_t kEchoRequest = 8;
inline constexpr std::uint8_t kTimeExceeded = 11;
inline constexpr std::uint8_t kParameterProblem = 12;
inline constexpr std::uint8_t kTimestamp = 13;
inline constexpr std::uint8_t kTimestampReply = 14;
inline constexpr std::uint8_t kInfoRequest = 15;
inline constexpr std::uint8_t kInfoReply = 16;
inline constexpr std::uint8_t kAddressMask = 17;
inline constexpr std::uint8_t kAddressMaskReply = 18;
// Above this the kernel calls a type unknown and the packet INVALID (NR_ICMP_TYPES).
inline constexpr std::uint8_t kHighestKnown = 18;
}  // namespace icmptype

namespace icmpv6type {
// Below this every type is an error message (ICMPV6_INFOMSG_MASK).
inline constexpr std::uint8_t kFirstInformational = 128;
inline constexpr std::uint8_t kEchoRequest = 128;
inline constexpr std::uint8_t kEchoReply = 129;
inline constexpr std::uint8_t kMldQuery = 130;
inline constexpr std::uint8_t kMldReport = 131;
inline constexpr std::uint8_t kMldDone = 132;
inline constexpr std::uint8_t kRouterSolicitation = 133;
inline constexpr std::uint8_t kRouterAdvertisement = 134;
inline constexpr std::uint8_t kNeighbourSolicitation = 135;
inline constexpr std::uint8_t kNeighbourAdvertisement = 136;
inline constexpr std::uint8_t kNodeInfoQuery = 139;
inline constexpr std::uint8_t kNodeInfoReply = 140;
inline constexpr std::uint8_t kMld2Report = 143;
}  // namespace icmpv6type

// An error message, which quotes the packet that caused it (icmp_is_err; for
// ICMPv6 every type below 128).
constexpr bool icmp_is_error(Family family, std::uint8_t type) {
  if (family == Family::kIPv6) return type < icmpv6type::kFirstInformational;
  return type == icmptype::kDestinationUnreachable || type == icmptype::kSourceQuench ||
         type == icmptype::kRedirect || type == icmptype::kTimeExceeded ||
         type == icmptype::kParameterProblem;
}

// ICMPv6 neighbour discovery and multicast listener messages, which the
// kernel never tracks (icmpv6_error's noct_valid_new): UNTRACKED.
constexpr bool icmp_is_untracked(Family family, std::uint8_t type) {
  if (family != Family::kIPv6) return false;
  return (type >= icmpv6type::kMldQuery && type <= icmpv6type::kNeighbourAdvertisement) ||
         type == icmpv6type::kMld2Report;
}

// A query, which may start a connection (the trackers' valid_new).
constexpr bool icmp_starts_connection(Family family, std::uint8_t type) {
  if (family == Family::kIPv6) {
    return type == icmpv6type::kEchoRequest || type == icmpv6type::kNodeInfoQuery;
  }
  return type == icmptype::kEchoRequest || type == icmptype::kTimestamp ||
         type == icmptype::kInfoRequest || type == icmptype::kAddressMask;
}

struct IcmpQueryPair {
  std::uint8_t query;
  std::uint8_t answer;
};
inline constexpr IcmpQueryPair kIcmpQueryPairs[] = {
    {icmptype::kEchoRequest, icmptype::kEchoReply},
    {icmptype::kTimestamp, icmptype::kTimestampReply},
    {icmptype::kInfoRequest, icmptype::kInfoReply},
    {icmptype::kAddressMask, icmptype::kAddressMaskReply}};
inline constexpr IcmpQueryPair kIcmpv6QueryPairs[] = {
    {icmpv6type::kEchoRequest, icmpv6type::kEchoReply},
    {icmpv6type::kNodeInfoQuery, icmpv6type::kNodeInfoReply}};

// The type that answers `type` and back (the trackers' invmap); nullopt for a
// type that is no query or answer, which the kernel cannot track.
constexpr std::optional<std::uint8_t> icmp_counterpart(Family family, std::uint8_t type) {
  const std::span<const IcmpQueryPair> pairs =
      family == Family::kIPv6 ? std::span<const IcmpQueryPair>(kIcmpv6QueryPairs)
                              : std::span<const IcmpQueryPair>(kIcmpQueryPairs);
  for (const IcmpQueryPair& pair : pairs) {
    if (pair.query == type) return pair.answer;
    if (pair.answer == type) return pair.query;
  }
  return std::nullopt;
}

}  // namespace verdictd
