// The daemon's side of NAT: binds a new connection to the addresses and ports
// a NAT target chose, unique in the flow table (the kernel's
// get_unique_tuple and nf_nat_setup_info), and answers the targets' questions
// about interface addresses.
#pragma once

#include <atomic>
#include <functional>
#include <utility>

#include "conntrack/flow_table.hpp"
#include "nat/nat_context.hpp"

namespace verdictd {

// Where interface addresses come from (the daemon's rtnetlink address cache).
struct InterfaceAddresses {
  std::function<std::optional<IpAddress>(std::uint32_t ifindex, const IpAddress& destination)>
      masquerade;
  std::function<std::optional<IpAddress>(std::uint32_t ifindex, const IpAddress& destination)>
      redirect;
};

class NatBinder final : public NatContext {
 public:
  NatBinder(FlowTable& flows, InterfaceAddresses addresses)
      : flows_(&flows), addresses_(std::move(addresses)) {}

  bool bind(PacketConntrack& ct, std::uint8_t manip, const NatRange& range) override;
  void note_unbound_drop() override;

  struct Stats {
    std::uint64_t bindings = 0;   // connections bound by a NAT target
    std::uint64_t exhausted = 0;  // refused: no unique tuple left (the packet was dropped)
    // Packets dropped because their connection's binding is unknown (a
    // connection adopted from the kernel that the nat rules would bind).
    std::uint64_t unbound_drops = 0;
  };
  [[nodiscard]] Stats stats() const {
    return {bindings_.load(), exhausted_.load(), unbound_drops_.load()};
  }
  [[nodiscard]] std::optional<IpAddress> masquerade_address(
      std::uint32_t out_ifindex, const IpAddress& destination) const override;
  [[nodiscard]] std::optional<IpAddress> redirect_address(
      std::uint32_t in_ifindex, const IpAddress& destination) const override;

 private:
  bool bind_unique(PacketConntrack& ct, std::uint8_t manip, const NatRange& range);

  FlowTable* flows_;
  InterfaceAddresses addresses_;
  std::atomic<std::uint64_t> bindings_{0};
  std::atomic<std::uint64_t> exhausted_{0};
  std::atomic<std::uint64_t> unbound_drops_{0};
};

}  // namespace verdictd
