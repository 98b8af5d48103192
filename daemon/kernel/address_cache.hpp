// The addresses of every interface, both families, in the kernel's own list
// order, kept current through rtnetlink; it answers which address MASQUERADE
// and REDIRECT would use, and says when one goes away.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernel/netlink_reader.hpp"
#include "packet/address.hpp"
#include "packet/packet_type.hpp"

struct nlmsghdr;

namespace verdictd {

struct InterfaceAddress {
  IpAddress local;    // IFA_LOCAL: the interface's own address
  IpAddress address;  // IFA_ADDRESS: the peer on a point-to-point link, else `local`
  std::uint8_t prefix_length = 0;
  std::uint8_t scope = 0;   // RT_SCOPE_*
  std::uint32_t flags = 0;  // IFA_F_*
  friend bool operator==(const InterfaceAddress&, const InterfaceAddress&) = default;
};

class AddressCache final : public SubnetBroadcasts {
 public:
  using AddressRemoved = std::function<void(std::uint32_t ifindex, const IpAddress& local)>;
  using InterfaceDown = std::function<void(std::uint32_t ifindex)>;

  AddressCache();
  ~AddressCache() override;
  AddressCache(const AddressCache&) = delete;
  AddressCache& operator=(const AddressCache&) = delete;
  AddressCache(AddressCache&&) = delete;
  AddressCache& operator=(AddressCache&&) = delete;

  // Called on the cache's thread, without its lock held; set before start().
  // An address was removed (also each one a resynchronising dump no longer
  // finds): the kernel then forgets the MASQUERADE connections of that
  // interface whose mapped address it was.
  void on_address_removed(AddressRemoved callback);
  // An interface went down (NETDEV_DOWN) or was removed while up: the kernel
  // forgets every MASQUERADE connection leaving through it.
  void on_interface_down(InterfaceDown callback);

  // Subscribes to address and link changes, dumps the addresses (the cache is
  // complete when this returns) and follows the changes on a thread. Throws
  // std::runtime_error when rtnetlink cannot be read.
  void start();
  void stop();

  // The source MASQUERADE gives a connection leaving through `ifindex`.
  // IPv4 (inet_select_addr with universe scope): the first primary address of
  // universe scope in the subnet of `next_hop` (the route's gateway, or the
  // destination when it is on-link), else the first primary one of universe
  // scope; when the interface has none, the first such address of any
  // interface, lowest ifindex first. IPv6 (ipv6_dev_get_saddr, `next_hop`
  // being the destination): RFC 6724 source address selection. nullopt: the
  // kernel drops the packet.
  std::optional<IpAddress> masquerade_address(std::uint32_t ifindex, Family family,
                                              const IpAddress& next_hop) const;
  // The destination REDIRECT gives a packet that came in on `ifindex`: IPv4
  // the interface's first address (nf_nat_redirect_ipv4); IPv6 its first
  // address that is usable (not tentative unless optimistic, not v4-mapped)
  // and, for a destination of link or host scope, of the same scope
  // (nf_nat_redirect_ipv6). nullopt: the kernel drops the packet.
  std::optional<IpAddress> redirect_address(std::uint32_t ifindex, Family family,
                                            const IpAddress& destination) const;
  // True when `address` is the broadcast address of the subnet of one of
  // the interface's IPv4 addresses (pkttype).
  [[nodiscard]] bool is_subnet_broadcast(std::uint32_t ifindex,
                                         const IpAddress& address) const override;
  // The interface's addresses of `family` in the kernel's list order.
  [[nodiscard]] std::vector<InterfaceAddress> addresses(std::uint32_t ifindex, Family family) const;

 private:
  struct Interface {
    std::vector<InterfaceAddress> ipv4;
    std::vector<InterfaceAddress> ipv6;
  };
  // Ordered by ifindex: the order the kernel walks devices in, nearly.
  using InterfaceMap = std::map<std::uint32_t, Interface>;

  void apply(const ::nlmsghdr& message, bool from_dump, bool also_dumped);
  void apply_link(const ::nlmsghdr& message);
  // Replaces the addresses with the dump's, noting those it no longer finds.
  void reconcile();
  // Makes the notifications of a datagram, once the lock is released.
  void notify();

  // Lock order: daemon/LOCKING.md.
  mutable std::shared_mutex mutex_;
  InterfaceMap interfaces_;
  AddressRemoved address_removed_;
  InterfaceDown interface_down_;
  // The reader's thread only:
  std::unordered_map<std::uint32_t, bool> link_up_;
  InterfaceMap dumped_;  // what the running dump has seen so far
  std::vector<std::pair<std::uint32_t, IpAddress>> removed_;  // to notify
  std::vector<std::uint32_t> downed_;                         // to notify
  NetlinkReader reader_;
};

}  // namespace verdictd
