// Interface names by ifindex, kept current through rtnetlink (links created,
// renamed and removed while the daemon runs; netlink_reader.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <unordered_map>

#include "kernel/netlink_reader.hpp"

namespace verdictd {

using InterfaceName = std::array<char, 16>;  // NUL-terminated, IFNAMSIZ

class LinkCache {
 public:
  LinkCache();
  ~LinkCache();
  LinkCache(const LinkCache&) = delete;
  LinkCache& operator=(const LinkCache&) = delete;
  LinkCache(LinkCache&&) = delete;
  LinkCache& operator=(LinkCache&&) = delete;

  // Subscribes to link changes, dumps the links (the cache is complete when
  // this returns) and follows the changes on a thread. Throws
  // std::runtime_error when rtnetlink cannot be read.
  void start();
  void stop();
  // Copies the name of `ifindex` into `out`; false (and an empty name) if unknown.
  bool name_of(std::uint32_t ifindex, InterfaceName& out) const;

 private:
  using NameMap = std::unordered_map<std::uint32_t, InterfaceName>;

  void apply(const ::nlmsghdr& message, bool from_dump, bool also_dumped);

  // Lock order: daemon/LOCKING.md.
  mutable std::shared_mutex mutex_;
  NameMap names_;
  NameMap dumped_;  // what the running dump has seen so far; the reader's thread only
  NetlinkReader reader_;
};

}  // namespace verdictd
