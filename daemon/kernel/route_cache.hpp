// The kernel's routes of both families, every table (local included),
// kept current through rtnetlink, for addrtype and rpfilter: they ask it as
// the pure code's RouteLookup (packet/routes.hpp).
#pragma once

#include <memory>
#include <shared_mutex>

#include "kernel/netlink_reader.hpp"
#include "packet/routes.hpp"

struct nlmsghdr;

namespace verdictd {

class RouteCache final : public RouteLookup {
 public:
  RouteCache();
  ~RouteCache() override;
  RouteCache(const RouteCache&) = delete;
  RouteCache& operator=(const RouteCache&) = delete;
  RouteCache(RouteCache&&) = delete;
  RouteCache& operator=(RouteCache&&) = delete;

  // Subscribes to route and link changes, dumps the routes (complete when
  // this returns) and follows the changes on a thread. Throws
  // std::system_error when rtnetlink cannot be read.
  void start();
  void stop();

  [[nodiscard]] RouteResult lookup(const RouteQuery& query) const override;
  [[nodiscard]] RouteResult lookup_local_table(const IpAddress& destination) const override;
  [[nodiscard]] bool is_address_of(std::uint32_t ifindex, const IpAddress& address) const override;
  [[nodiscard]] std::size_t size() const;

 private:
  void apply(const ::nlmsghdr& message, bool from_dump, bool also_dumped);

  // Lock order: daemon/LOCKING.md.
  mutable std::shared_mutex mutex_;
  std::unique_ptr<RoutingTable> routes_ = std::make_unique<RoutingTable>();
  // The reader's thread only: what the running dump has seen.
  std::unique_ptr<RoutingTable> dumped_ = std::make_unique<RoutingTable>();
  NetlinkReader reader_;
};

}  // namespace verdictd
