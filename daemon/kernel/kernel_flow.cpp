#include "kernel/kernel_flow.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace verdictd {

namespace {

// The library's attributes of one direction's tuple.
struct TupleAttributes {
  nf_conntrack_attr ipv4_source;
  nf_conntrack_attr ipv4_destination;
  nf_conntrack_attr ipv6_source;
  nf_conntrack_attr ipv6_destination;
  nf_conntrack_attr protocol;
  nf_conntrack_attr source_port;
  nf_conntrack_attr destination_port;
};

constexpr TupleAttributes kOriginalAttributes{
    ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_SRC, ATTR_ORIG_IPV6_DST,
    ATTR_ORIG_L4PROTO,  ATTR_ORIG_PORT_SRC, ATTR_ORIG_PORT_DST,
};
constexpr TupleAttributes kReplyAttributes{
    ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_SRC, ATTR_REPL_IPV6_DST,
    ATTR_REPL_L4PROTO,  ATTR_REPL_PORT_SRC, ATTR_REPL_PORT_DST,
};

std::optional<Family> family_of(std::uint8_t l3_protocol) {
  if (l3_protocol == AF_INET) return Family::kIPv4;
  if (l3_protocol == AF_INET6) return Family::kIPv6;
  return std::nullopt;
}

bool is_icmp(Family family, std::uint8_t protocol) {
  return family == Family::kIPv4 ? protocol == IPPROTO_ICMP : protocol == IPPROTO_ICMPV6;
}

std::uint16_t icmp_type_code(std::uint8_t type, std::uint8_t code) {
  return static_cast<std::uint16_t>(type << 8U | code);
}

IpAddress address_of(const nf_conntrack& conntrack, Family family, nf_conntrack_attr ipv4,
                     nf_conntrack_attr ipv6) {
  const bool v4 = family == Family::kIPv4;
  const void* raw = nfct_get_attr(&conntrack, v4 ? ipv4 : ipv6);
  if (raw == nullptr) return IpAddress{family, {}};
  const auto* bytes = static_cast<const std::uint8_t*>(raw);
  return v4 ? IpAddress::from_v4(bytes) : IpAddress::from_v6(bytes);
}

// One direction's addresses, protocol and ports; the ICMP fields are left to
// the caller, since the library keeps them for the original direction only.
Tuple tuple_of(const nf_conntrack& conntrack, const TupleAttributes& attributes, Family family,
               std::uint16_t zone) {
  Tuple tuple;
  tuple.family = family;
  tuple.zone = zone;
  tuple.protocol = nfct_get_attr_u8(&conntrack, attributes.protocol);
  tuple.source = address_of(conntrack, family, attributes.ipv4_source, attributes.ipv6_source);
  tuple.destination =
      address_of(conntrack, family, attributes.ipv4_destination, attributes.ipv6_destination);
  if (!is_icmp(family, tuple.protocol)) {
    tuple.source_port = ntohs(nfct_get_attr_u16(&conntrack, attributes.source_port));
    tuple.destination_port = ntohs(nfct_get_attr_u16(&conntrack, attributes.destination_port));
  }
  return tuple;
}

// The ICMP id and type/code of the original direction, as the library keeps them.
void set_original_icmp(const nf_conntrack& conntrack, Tuple& tuple) {
  tuple.source_port = ntohs(nfct_get_attr_u16(&conntrack, ATTR_ICMP_ID));
  tuple.destination_port = icmp_type_code(nfct_get_attr_u8(&conntrack, ATTR_ICMP_TYPE),
                                          nfct_get_attr_u8(&conntrack, ATTR_ICMP_CODE));
}

// The attribute of `type` among those from `begin` to `end`, or null.
const nlattr* find_attribute(const char* begin, const char* end, std::uint16_t type) {
  for (const auto* attribute = reinterpret_cast<const nlattr*>(begin);
       mnl_attr_ok(attribute, static_cast<int>(end - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    if (mnl_attr_get_type(attribute) == type) return attribute;
  }
  return nullptr;
}

const nlattr* message_attribute(const nlmsghdr& message, std::uint16_t type) {
  const auto* begin =
      static_cast<const char*>(mnl_nlmsg_get_payload_offset(&message, sizeof(nfgenmsg)));
  const auto* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(&message));
  return find_attribute(begin, end, type);
}

const nlattr* nested_attribute(const nlattr* parent, std::uint16_t type) {
  if (parent == nullptr) return nullptr;
  const auto* begin = static_cast<const char*>(mnl_attr_get_payload(parent));
  return find_attribute(begin, begin + mnl_attr_get_payload_len(parent), type);
}

std::uint8_t u8_or_zero(const nlattr* attribute) {
  if (attribute == nullptr || mnl_attr_validate(attribute, MNL_TYPE_U8) < 0) return 0;
  return mnl_attr_get_u8(attribute);
}

// The reply direction's ICMP id and type/code, read from the message.
void set_reply_icmp(const nlmsghdr& message, Tuple& tuple) {
  const bool v4 = tuple.family == Family::kIPv4;
  const nlattr* proto =
      nested_attribute(message_attribute(message, CTA_TUPLE_REPLY), CTA_TUPLE_PROTO);
  const nlattr* id = nested_attribute(proto, v4 ? CTA_PROTO_ICMP_ID : CTA_PROTO_ICMPV6_ID);
  if (id != nullptr && mnl_attr_validate(id, MNL_TYPE_U16) >= 0) {
    tuple.source_port = ntohs(mnl_attr_get_u16(id));
  }
  tuple.destination_port = icmp_type_code(
      u8_or_zero(nested_attribute(proto, v4 ? CTA_PROTO_ICMP_TYPE : CTA_PROTO_ICMPV6_TYPE)),
      u8_or_zero(nested_attribute(proto, v4 ? CTA_PROTO_ICMP_CODE : CTA_PROTO_ICMPV6_CODE)));
}

// A helper name of at most `name.size() - 1` bytes, the last kept NUL.
void copy_helper_name(const char* text, HelperName& name) {
  if (text == nullptr) return;
  const std::string_view bounded(text, strnlen(text, name.size() - 1));
  std::copy(bounded.begin(), bounded.end(), name.begin());
}

ConntrackTime after_seconds(ConntrackTime now, std::uint32_t seconds) {
  return now + std::chrono::seconds(seconds);
}

}  // namespace

void KernelConntrackDeleter::operator()(nf_conntrack* conntrack) const { nfct_destroy(conntrack); }

std::optional<Flow> flow_from_kernel(const nlmsghdr& message, const nf_conntrack& conntrack,
                                     ConntrackTime now) {
  const auto family = family_of(nfct_get_attr_u8(&conntrack, ATTR_ORIG_L3PROTO));
  if (!family) return std::nullopt;
  const std::uint16_t zone = nfct_get_attr_u16(&conntrack, ATTR_ZONE);
  Flow flow;
  flow.original = tuple_of(conntrack, kOriginalAttributes, *family, zone);
  flow.reply = tuple_of(conntrack, kReplyAttributes, *family, zone);
  if (is_icmp(*family, flow.original.protocol)) {
    set_original_icmp(conntrack, flow.original);
    set_reply_icmp(message, flow.reply);
  }
  flow.status = nfct_get_attr_u32(&conntrack, ATTR_STATUS);
  flow.mark = nfct_get_attr_u32(&conntrack, ATTR_MARK);
  const std::uint8_t tcp_state = nfct_get_attr_u8(&conntrack, ATTR_TCP_STATE);
  if (tcp_state <= static_cast<std::uint8_t>(TcpState::kSynSent2)) {
    flow.tcp_state = static_cast<TcpState>(tcp_state);
  }
  flow.kernel_id = nfct_get_attr_u32(&conntrack, ATTR_ID);
  copy_helper_name(static_cast<const char*>(nfct_get_attr(&conntrack, ATTR_HELPER_NAME)),
                   flow.helper);
  flow.created = now;
  // A DESTROY event carries no timeout: the connection is gone already.
  flow.expires = after_seconds(now, nfct_get_attr_u32(&conntrack, ATTR_TIMEOUT));
  flow.counters[0] = {nfct_get_attr_u64(&conntrack, ATTR_ORIG_COUNTER_PACKETS),
                      nfct_get_attr_u64(&conntrack, ATTR_ORIG_COUNTER_BYTES)};
  flow.counters[1] = {nfct_get_attr_u64(&conntrack, ATTR_REPL_COUNTER_PACKETS),
                      nfct_get_attr_u64(&conntrack, ATTR_REPL_COUNTER_BYTES)};
  return flow;
}

std::optional<Tuple> master_from_kernel(const nf_conntrack& conntrack, Family family) {
  if (!nfct_attr_is_set(&conntrack, ATTR_MASTER_L3PROTO)) return std::nullopt;
  const bool v4 = family == Family::kIPv4;
  Tuple master;
  master.family = family;
  master.zone = nfct_get_attr_u16(&conntrack, ATTR_ZONE);
  master.protocol = nfct_get_attr_u8(&conntrack, ATTR_MASTER_L4PROTO);
  const void* source = nfct_get_attr(&conntrack, v4 ? ATTR_MASTER_IPV4_SRC : ATTR_MASTER_IPV6_SRC);
  const void* destination =
      nfct_get_attr(&conntrack, v4 ? ATTR_MASTER_IPV4_DST : ATTR_MASTER_IPV6_DST);
  if (source == nullptr || destination == nullptr) return std::nullopt;
  const auto address = [&](const void* raw) {
    const auto* bytes = static_cast<const std::uint8_t*>(raw);
    return v4 ? IpAddress::from_v4(bytes) : IpAddress::from_v6(bytes);
  };
  master.source = address(source);
  master.destination = address(destination);
  master.source_port = ntohs(nfct_get_attr_u16(&conntrack, ATTR_MASTER_PORT_SRC));
  master.destination_port = ntohs(nfct_get_attr_u16(&conntrack, ATTR_MASTER_PORT_DST));
  return master;
}

KernelConntrack kernel_conntrack(const Tuple& tuple) {
  KernelConntrack conntrack(nfct_new());
  nf_conntrack* ct = conntrack.get();
  const bool v4 = tuple.family == Family::kIPv4;
  // The ICMP type setter reads the family, so it comes first.
  nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, v4 ? AF_INET : AF_INET6);
  nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, tuple.protocol);
  nfct_set_attr(ct, v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC, tuple.source.bytes.data());
  nfct_set_attr(ct, v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST, tuple.destination.bytes.data());
  if (is_icmp(tuple.family, tuple.protocol)) {
    nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(tuple.source_port));
    nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, static_cast<std::uint8_t>(tuple.destination_port >> 8U));
    nfct_set_attr_u8(ct, ATTR_ICMP_CODE, static_cast<std::uint8_t>(tuple.destination_port));
  } else {
    nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(tuple.source_port));
    nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(tuple.destination_port));
  }
  nfct_set_attr_u16(ct, ATTR_ZONE, tuple.zone);
  return conntrack;
}

std::optional<Expectation> expectation_from_kernel(const nlmsghdr& message,
                                                   const nf_expect& expectation,
                                                   ConntrackTime now) {
  const auto* expected =
      static_cast<const nf_conntrack*>(nfexp_get_attr(&expectation, ATTR_EXP_EXPECTED));
  const auto* mask = static_cast<const nf_conntrack*>(nfexp_get_attr(&expectation, ATTR_EXP_MASK));
  const auto* master =
      static_cast<const nf_conntrack*>(nfexp_get_attr(&expectation, ATTR_EXP_MASTER));
  if (expected == nullptr || mask == nullptr || master == nullptr) return std::nullopt;
  const auto family = family_of(nfct_get_attr_u8(expected, ATTR_ORIG_L3PROTO));
  if (!family) return std::nullopt;
  const std::uint16_t zone = nfexp_get_attr_u16(&expectation, ATTR_EXP_ZONE);
  Expectation result;
  const nlattr* id = message_attribute(message, CTA_EXPECT_ID);
  if (id != nullptr && mnl_attr_validate(id, MNL_TYPE_U32) >= 0) {
    result.kernel_id = ntohl(mnl_attr_get_u32(id));
  }
  result.tuple = tuple_of(*expected, kOriginalAttributes, *family, zone);
  result.master = tuple_of(*master, kOriginalAttributes, *family, zone);
  // The kernel compares the zone exactly, and the mask carries the protocol,
  // not a mask of it.
  result.mask = tuple_of(*mask, kOriginalAttributes, *family, 0xffff);
  if (is_icmp(*family, result.tuple.protocol)) {
    set_original_icmp(*expected, result.tuple);
    set_original_icmp(*mask, result.mask);
  }
  if (is_icmp(*family, result.master.protocol)) set_original_icmp(*master, result.master);
  result.expires = after_seconds(now, nfexp_get_attr_u32(&expectation, ATTR_EXP_TIMEOUT));
  copy_helper_name(static_cast<const char*>(nfexp_get_attr(&expectation, ATTR_EXP_HELPER_NAME)),
                   result.helper);
  return result;
}

}  // namespace verdictd
