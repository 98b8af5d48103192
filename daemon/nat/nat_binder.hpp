// The daemon's side of NAT: binds a new connection to the addresses and ports
// a NAT target chose, unique in the flow table (the kernel's
// get_unique_tuple and nf_nat_setup_info), and answers the targets' questions
// about interface addresses.
#pragma once

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
  [[nodiscard]] std::optional<IpAddress> masquerade_address(
      std::uint32_t out_ifindex, const IpAddress& destination) const override;
  [[nodiscard]] std::optional<IpAddress> redirect_address(
      std::uint32_t in_ifindex, const IpAddress& destination) const override;

 private:
  FlowTable* flows_;
  InterfaceAddresses addresses_;
};

}  // namespace verdictd
