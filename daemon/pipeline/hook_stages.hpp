// The stages of each hook, as the kernel registers its hook functions: in
// priority order (enum nf_ip_hook_priorities; IPv6's NF_IP6_PRI_* are the
// same numbers), lowest first. run_hook (hook_pipeline.hpp) runs them.
//
//                 raw   conntrack  mangle   nat dst   filter  security  nat src  confirm
//                -300     -200      -150     -100        0       50       100    INT_MAX
//  PREROUTING     ■        ●         ■        ◆
//  INPUT                             ■                   ■       ■         ◆        ●
//  FORWARD                           ■                   ■       ■
//  OUTPUT         ■        ●         ■        ◆          ■       ■
//  POSTROUTING                       ■                                     ◆        ●
//
//  ■ a table's built-in chain   ◆ nat: the nat table's chains for a
//  connection's first packet, then its binding's translation   ● conntrack
//
// A table absent at a hook has no stage there (table_hooks in packet/hooks.hpp
// says the same). At a hook without a conntrack stage the packet comes with
// its connection, tracked at an earlier hook (tracking_points.hpp).
#pragma once

#include <climits>
#include <cstdint>
#include <span>

#include "packet/hooks.hpp"

namespace verdictd {

// enum nf_ip_hook_priorities (include/uapi/linux/netfilter_ipv4.h).
namespace priority {
inline constexpr int kRaw = -300;                  // NF_IP_PRI_RAW
inline constexpr int kConntrack = -200;            // NF_IP_PRI_CONNTRACK
inline constexpr int kMangle = -150;               // NF_IP_PRI_MANGLE
inline constexpr int kNatDestination = -100;       // NF_IP_PRI_NAT_DST
inline constexpr int kFilter = 0;                  // NF_IP_PRI_FILTER
inline constexpr int kSecurity = 50;               // NF_IP_PRI_SECURITY
inline constexpr int kNatSource = 100;             // NF_IP_PRI_NAT_SRC
inline constexpr int kConntrackConfirm = INT_MAX;  // NF_IP_PRI_CONNTRACK_CONFIRM
}  // namespace priority

enum class StageKind : std::uint8_t {
  kTable,      // the table's built-in chain for the hook (ipt_do_table)
  kConntrack,  // the packet's connection is looked up or created (nf_conntrack_in)
  // The nat table's chains, for a connection's first packet only, then the
  // null binding when they bound nothing, then the translation of the packet
  // by its connection's binding (nf_nat_inet_fn, nf_nat_packet).
  kNat,
  kConfirm,  // the new connection enters the kernel's table (nf_conntrack_confirm)
};

struct Stage {
  StageKind kind;
  int priority;
  TableId table = TableId::kRaw;  // kTable's and kNat's table; unused otherwise
};

// The stages at `hook`, in priority order.
std::span<const Stage> hook_stages(Hook hook);

}  // namespace verdictd
