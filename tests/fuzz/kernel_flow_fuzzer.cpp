// The ctnetlink conversion (daemon/conntrack/kernel_flow.hpp): a message as
// the mirror receives one, parsed by libnetfilter_conntrack, turned into a
// flow or an expectation. The messages are built from the fuzz data, with
// every attribute well formed: the library ends the process (exit, "kernel
// ABI is broken") on an attribute of the wrong size, so no other message can
// reach the conversion. By the first byte:
// - free: any attributes in any number and order (tuples without addresses,
//   of the other family, ICMP fields on TCP, repeated, a message family of
//   any value); the flow's addresses must be of its family;
// - exact: a connection's or expectation's fields as the kernel writes them;
//   the result must carry exactly the tuples written, and a flow's original
//   tuple must survive the way back (kernel_conntrack, as the mirror's get
//   sends it).
#include <arpa/inet.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "ctnetlink_message.hpp"
#include "kernel/kernel_flow.hpp"
#include "packet_checks.hpp"

namespace verdictd::fuzz {
namespace {

struct ExpectDeleter {
  void operator()(nf_expect* expectation) const { nfexp_destroy(expectation); }
};

// A ctnetlink message being written, with fuzzed attributes besides the
// kernel's own.
class Message : public test::CtnetlinkMessage {
 public:
  using CtnetlinkMessage::CtnetlinkMessage;

  // A tuple of any shape: each address, protocol, port and ICMP field there
  // or not, of either family.
  void put_free_tuple(std::uint16_t attribute, FuzzedDataProvider& data) {
    nlattr* outer = mnl_attr_nest_start(header(), attribute);
    if (data.ConsumeBool()) {
      nlattr* ip = mnl_attr_nest_start(header(), CTA_TUPLE_IP);
      for (const std::uint16_t type : {CTA_IP_V4_SRC, CTA_IP_V4_DST}) {
        if (data.ConsumeBool()) {
          mnl_attr_put_u32(header(), type, data.ConsumeIntegral<std::uint32_t>());
        }
      }
      for (const std::uint16_t type : {CTA_IP_V6_SRC, CTA_IP_V6_DST}) {
        if (!data.ConsumeBool()) continue;
        std::array<std::uint8_t, 16> address{};
        for (auto& byte : address) byte = data.ConsumeIntegral<std::uint8_t>();
        mnl_attr_put(header(), type, address.size(), address.data());
      }
      mnl_attr_nest_end(header(), ip);
    }
    if (data.ConsumeBool()) {
      nlattr* proto = mnl_attr_nest_start(header(), CTA_TUPLE_PROTO);
      if (data.ConsumeBool()) {
        mnl_attr_put_u8(header(), CTA_PROTO_NUM, data.ConsumeIntegral<std::uint8_t>());
      }
      for (const std::uint16_t type :
           {CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT, CTA_PROTO_ICMP_ID, CTA_PROTO_ICMPV6_ID}) {
        if (data.ConsumeBool()) {
          mnl_attr_put_u16(header(), type, data.ConsumeIntegral<std::uint16_t>());
        }
      }
      for (const std::uint16_t type : {CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE,
                                       CTA_PROTO_ICMPV6_TYPE, CTA_PROTO_ICMPV6_CODE}) {
        if (data.ConsumeBool()) {
          mnl_attr_put_u8(header(), type, data.ConsumeIntegral<std::uint8_t>());
        }
      }
      mnl_attr_nest_end(header(), proto);
    }
    mnl_attr_nest_end(header(), outer);
  }
  // Room for one more attribute of any kind put here.
  [[nodiscard]] bool has_room() const { return get().nlmsg_len + 512 <= kBufferSize; }

  // The message alone in a buffer of its (aligned) size, so that ASan sees
  // any read past it.
  [[nodiscard]] std::vector<std::uint32_t> copy() const {
    std::vector<std::uint32_t> words(MNL_ALIGN(get().nlmsg_len) / 4);
    std::memcpy(words.data(), bytes(), get().nlmsg_len);
    return words;
  }
};

Tuple consume_tuple(FuzzedDataProvider& data, Family family, std::uint16_t zone) {
  constexpr std::array<std::uint8_t, 7> kProtocols = {IPPROTO_TCP,  IPPROTO_UDP,  IPPROTO_UDPLITE,
                                                      IPPROTO_SCTP, IPPROTO_DCCP, IPPROTO_ICMP,
                                                      IPPROTO_GRE};
  Tuple tuple;
  tuple.family = family;
  tuple.zone = zone;
  tuple.protocol = data.PickValueInArray(kProtocols);
  if (tuple.protocol == IPPROTO_ICMP && family == Family::kIPv6) tuple.protocol = IPPROTO_ICMPV6;
  std::array<std::uint8_t, 16> bytes{};
  for (auto& byte : bytes) byte = data.ConsumeIntegral<std::uint8_t>();
  tuple.source =
      family == Family::kIPv4 ? IpAddress::from_v4(bytes.data()) : IpAddress::from_v6(bytes.data());
  for (auto& byte : bytes) byte = data.ConsumeIntegral<std::uint8_t>();
  tuple.destination =
      family == Family::kIPv4 ? IpAddress::from_v4(bytes.data()) : IpAddress::from_v6(bytes.data());
  if (Message::is_icmp(tuple) || Message::has_ports(tuple)) {
    tuple.source_port = data.ConsumeIntegral<std::uint16_t>();
    tuple.destination_port = data.ConsumeIntegral<std::uint16_t>();
  }
  return tuple;
}

const ConntrackTime kNow = ConntrackTime{} + std::chrono::hours(24);

// The tuple as a conntrack get carries it, and back.
Tuple round_trip(const Tuple& tuple) {
  const KernelConntrack conntrack = kernel_conntrack(tuple);
  alignas(nlmsghdr) std::array<char, 2048> buffer{};
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data());
  header->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8U | IPCTNL_MSG_CT_GET;
  auto* general = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  general->nfgen_family = tuple.family == Family::kIPv4 ? AF_INET : AF_INET6;
  require(nfct_nlmsg_build(header, conntrack.get()) == 0, "kernel_conntrack: no message built");
  const KernelConntrack back(nfct_new());
  require(nfct_nlmsg_parse(header, back.get()) == 0, "kernel_conntrack: message not parsed back");
  const auto flow = flow_from_kernel(*header, *back, kNow);
  require(flow.has_value(), "kernel_conntrack: no flow back");
  return flow->original;
}

std::uint8_t message_family(Family family) { return family == Family::kIPv4 ? AF_INET : AF_INET6; }

// A flow's or expectation's tuple holds addresses of its family.
void require_family(const Tuple& tuple, Family family) {
  require(
      tuple.family == family && tuple.source.family == family && tuple.destination.family == family,
      "converted tuple: addresses not of its family");
}

std::optional<Flow> convert_connection(const Message& message) {
  const std::vector<std::uint32_t> words = message.copy();
  const auto* header = reinterpret_cast<const nlmsghdr*>(words.data());
  const KernelConntrack conntrack(nfct_new());
  if (nfct_nlmsg_parse(header, conntrack.get()) != 0) return std::nullopt;
  auto flow = flow_from_kernel(*header, *conntrack, kNow);
  if (flow) {
    require_family(flow->original, flow->original.family);
    require_family(flow->reply, flow->original.family);
  }
  return flow;
}

std::optional<Expectation> convert_expectation(const Message& message) {
  const std::vector<std::uint32_t> words = message.copy();
  const auto* header = reinterpret_cast<const nlmsghdr*>(words.data());
  const std::unique_ptr<nf_expect, ExpectDeleter> expectation(nfexp_new());
  if (nfexp_nlmsg_parse(header, expectation.get()) != 0) return std::nullopt;
  auto result = expectation_from_kernel(*header, *expectation, kNow);
  if (result) {
    require_family(result->master, result->tuple.family);
    require_family(result->mask, result->tuple.family);
  }
  return result;
}

void free_connection(FuzzedDataProvider& data, std::uint8_t family) {
  Message message(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, family);
  while (data.remaining_bytes() > 0 && message.has_room()) {
    switch (data.ConsumeIntegralInRange(0, 9)) {
      case 0:
        message.put_free_tuple(CTA_TUPLE_ORIG, data);
        break;
      case 1:
        message.put_free_tuple(CTA_TUPLE_REPLY, data);
        break;
      case 2:
        message.put_u32(CTA_STATUS, data.ConsumeIntegral<std::uint32_t>());
        break;
      case 3:
        message.put_u32(CTA_TIMEOUT, data.ConsumeIntegral<std::uint32_t>());
        break;
      case 4:
        message.put_u32(CTA_MARK, data.ConsumeIntegral<std::uint32_t>());
        break;
      case 5:
        message.put_u32(CTA_ID, data.ConsumeIntegral<std::uint32_t>());
        break;
      case 6:
        message.put_u16(CTA_ZONE, data.ConsumeIntegral<std::uint16_t>());
        break;
      case 7:
        message.put_tcp_state(data.ConsumeIntegral<std::uint8_t>());
        break;
      default:
        message.put_counters(data.ConsumeBool() ? CTA_COUNTERS_ORIG : CTA_COUNTERS_REPLY,
                             data.ConsumeIntegral<std::uint64_t>(),
                             data.ConsumeIntegral<std::uint64_t>());
        break;
    }
  }
  convert_connection(message);
}

void free_expectation(FuzzedDataProvider& data, std::uint8_t family) {
  Message message(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, family);
  while (data.remaining_bytes() > 0 && message.has_room()) {
    switch (data.ConsumeIntegralInRange(0, 5)) {
      case 0:
        message.put_free_tuple(CTA_EXPECT_MASTER, data);
        break;
      case 1:
        message.put_free_tuple(CTA_EXPECT_TUPLE, data);
        break;
      case 2:
        message.put_free_tuple(CTA_EXPECT_MASK, data);
        break;
      case 3:
        message.put_u32(CTA_EXPECT_TIMEOUT, data.ConsumeIntegral<std::uint32_t>());
        break;
      case 4:
        message.put_u32(CTA_EXPECT_ID, data.ConsumeIntegral<std::uint32_t>());
        break;
      default:
        message.put_u16(CTA_EXPECT_ZONE, data.ConsumeIntegral<std::uint16_t>());
        break;
    }
  }
  convert_expectation(message);
}

void exact_connection(FuzzedDataProvider& data, Family family) {
  Message message(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, message_family(family));
  const auto zone = data.ConsumeIntegral<std::uint16_t>();
  const Tuple original = consume_tuple(data, family, zone);
  Tuple reply = consume_tuple(data, family, zone);
  reply.protocol = original.protocol;
  if (!Message::is_icmp(reply) && !Message::has_ports(reply)) {
    reply.source_port = reply.destination_port = 0;
  }
  message.put_tuple(CTA_TUPLE_ORIG, original);
  message.put_tuple(CTA_TUPLE_REPLY, reply);
  message.put_u32(CTA_STATUS, data.ConsumeIntegral<std::uint32_t>());
  message.put_u32(CTA_TIMEOUT, data.ConsumeIntegral<std::uint32_t>());
  if (data.ConsumeBool()) message.put_u32(CTA_MARK, data.ConsumeIntegral<std::uint32_t>());
  if (data.ConsumeBool()) message.put_u32(CTA_ID, data.ConsumeIntegral<std::uint32_t>());
  if (zone != 0) message.put_u16(CTA_ZONE, zone);
  if (data.ConsumeBool()) message.put_tcp_state(data.ConsumeIntegral<std::uint8_t>());
  if (data.ConsumeBool()) {
    message.put_counters(CTA_COUNTERS_ORIG, data.ConsumeIntegral<std::uint64_t>(),
                         data.ConsumeIntegral<std::uint64_t>());
  }
  const auto flow = convert_connection(message);
  require(flow.has_value(), "exact message: no flow");
  require(flow->original == original, "exact message: not the original tuple written");
  require(flow->reply == reply, "exact message: not the reply tuple written");
  require(round_trip(flow->original) == flow->original, "original tuple lost on the way back");
}

void exact_expectation(FuzzedDataProvider& data, Family family) {
  Message message(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, message_family(family));
  const auto zone = data.ConsumeIntegral<std::uint16_t>();
  const Tuple master = consume_tuple(data, family, zone);
  const Tuple expected = consume_tuple(data, family, zone);
  message.put_tuple(CTA_EXPECT_MASTER, master);
  message.put_tuple(CTA_EXPECT_TUPLE, expected);
  message.put_tuple(CTA_EXPECT_MASK, consume_tuple(data, family, 0));
  message.put_u32(CTA_EXPECT_TIMEOUT, data.ConsumeIntegral<std::uint32_t>());
  message.put_u32(CTA_EXPECT_ID, data.ConsumeIntegral<std::uint32_t>());
  if (zone != 0) message.put_u16(CTA_EXPECT_ZONE, zone);
  const auto result = convert_expectation(message);
  require(result.has_value(), "exact expectation: none");
  require(result->tuple == expected, "exact expectation: not the tuple written");
  require(result->master == master, "exact expectation: not the master written");
}

}  // namespace
}  // namespace verdictd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace verdictd;
  if (size < 2) return 0;
  const std::uint8_t kind = bytes[0];
  const std::uint8_t family = bytes[1];
  FuzzedDataProvider data(bytes + 2, size - 2);
  const bool expectation = (kind & 1U) != 0;
  if ((kind & 2U) != 0) {
    const Family exact_family = (family & 1U) != 0 ? Family::kIPv6 : Family::kIPv4;
    if (expectation) {
      fuzz::exact_expectation(data, exact_family);
    } else {
      fuzz::exact_connection(data, exact_family);
    }
  } else if (expectation) {
    fuzz::free_expectation(data, family);
  } else {
    fuzz::free_connection(data, family);
  }
  return 0;
}
