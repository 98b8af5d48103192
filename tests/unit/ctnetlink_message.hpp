// A ctnetlink message built as the kernel's ctnetlink_fill_info builds one,
// for the unit tests and the fuzz target of the ctnetlink conversion
// (conntrack/kernel_flow.hpp).
#pragma once

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "conntrack/tuple.hpp"

namespace verdictd::test {

class CtnetlinkMessage {
 public:
  static constexpr std::size_t kBufferSize = 8192;

  CtnetlinkMessage(std::uint16_t subsystem, std::uint16_t type, std::uint8_t family)
      : header_(mnl_nlmsg_put_header(buffer_.data())) {
    header_->nlmsg_type = static_cast<std::uint16_t>(subsystem << 8U | type);
    auto* general = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header_, sizeof(nfgenmsg)));
    general->nfgen_family = family;
    general->version = NFNETLINK_V0;
  }

  // A tuple of either family; for ICMP the ports are the id and type << 8 | code.
  void put_tuple(std::uint16_t attribute, const Tuple& tuple) {
    const bool v4 = tuple.family == Family::kIPv4;
    nlattr* outer = mnl_attr_nest_start(header_, attribute);
    nlattr* ip = mnl_attr_nest_start(header_, CTA_TUPLE_IP);
    mnl_attr_put(header_, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, tuple.source.size(),
                 tuple.source.bytes.data());
    mnl_attr_put(header_, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, tuple.destination.size(),
                 tuple.destination.bytes.data());
    mnl_attr_nest_end(header_, ip);
    nlattr* proto = mnl_attr_nest_start(header_, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(header_, CTA_PROTO_NUM, tuple.protocol);
    if (is_icmp(tuple)) {
      mnl_attr_put_u16(header_, v4 ? CTA_PROTO_ICMP_ID : CTA_PROTO_ICMPV6_ID,
                       htons(tuple.source_port));
      mnl_attr_put_u8(header_, v4 ? CTA_PROTO_ICMP_TYPE : CTA_PROTO_ICMPV6_TYPE,
                      static_cast<std::uint8_t>(tuple.destination_port >> 8U));
      mnl_attr_put_u8(header_, v4 ? CTA_PROTO_ICMP_CODE : CTA_PROTO_ICMPV6_CODE,
                      static_cast<std::uint8_t>(tuple.destination_port));
    } else if (has_ports(tuple)) {
      mnl_attr_put_u16(header_, CTA_PROTO_SRC_PORT, htons(tuple.source_port));
      mnl_attr_put_u16(header_, CTA_PROTO_DST_PORT, htons(tuple.destination_port));
    }
    mnl_attr_nest_end(header_, proto);
    mnl_attr_nest_end(header_, outer);
  }
  void put_u32(std::uint16_t attribute, std::uint32_t value) {
    mnl_attr_put_u32(header_, attribute, htonl(value));
  }
  void put_u16(std::uint16_t attribute, std::uint16_t value) {
    mnl_attr_put_u16(header_, attribute, htons(value));
  }
  void put_string(std::uint16_t attribute, const char* value) {
    mnl_attr_put_strz(header_, attribute, value);
  }
  // CTA_HELP: the connection's helper.
  void put_helper(const char* name) {
    nlattr* help = mnl_attr_nest_start(header_, CTA_HELP);
    mnl_attr_put_strz(header_, CTA_HELP_NAME, name);
    mnl_attr_nest_end(header_, help);
  }
  void put_tcp_state(std::uint8_t state) {
    nlattr* protoinfo = mnl_attr_nest_start(header_, CTA_PROTOINFO);
    nlattr* tcp = mnl_attr_nest_start(header_, CTA_PROTOINFO_TCP);
    mnl_attr_put_u8(header_, CTA_PROTOINFO_TCP_STATE, state);
    mnl_attr_nest_end(header_, tcp);
    mnl_attr_nest_end(header_, protoinfo);
  }
  void put_counters(std::uint16_t attribute, std::uint64_t packets, std::uint64_t bytes) {
    nlattr* counters = mnl_attr_nest_start(header_, attribute);
    mnl_attr_put_u64(header_, CTA_COUNTERS_PACKETS, htobe64(packets));
    mnl_attr_put_u64(header_, CTA_COUNTERS_BYTES, htobe64(bytes));
    mnl_attr_nest_end(header_, counters);
  }
  [[nodiscard]] nlmsghdr* header() { return header_; }
  [[nodiscard]] const nlmsghdr& get() const { return *header_; }

  static bool is_icmp(const Tuple& tuple) {
    const auto icmp = static_cast<std::uint8_t>(
        tuple.family == Family::kIPv4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6});
    return tuple.protocol == icmp;
  }
  static bool has_ports(const Tuple& tuple) {
    return tuple.protocol == IPPROTO_TCP || tuple.protocol == IPPROTO_UDP ||
           tuple.protocol == IPPROTO_UDPLITE || tuple.protocol == IPPROTO_SCTP ||
           tuple.protocol == IPPROTO_DCCP;
  }

 protected:
  [[nodiscard]] const char* bytes() const { return buffer_.data(); }

 private:
  alignas(nlmsghdr) std::array<char, kBufferSize> buffer_{};
  nlmsghdr* header_;
};

}  // namespace verdictd::test
