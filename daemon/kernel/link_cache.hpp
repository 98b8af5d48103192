// Interface names, MTUs, kinds and link-layer addresses by ifindex, kept current through rtnetlink
// (links created, renamed, changed and removed while the daemon runs; netlink_reader.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <unordered_map>

#include "extension/eval_state.hpp"
#include "kernel/netlink_reader.hpp"
#include "packet/link_header.hpp"

namespace verdictd {

using InterfaceName = std::array<char, 16>;  // NUL-terminated, IFNAMSIZ

class LinkCache final : public InterfaceMtus {
 public:
  // What the cache keeps of a link.
  struct Link {
    InterfaceName name{};
    std::uint32_t mtu = 0;
    LinkDevice device{};  // ifi_type and IFLA_ADDRESS, for LOG's MAC=
  };

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
  // Copies what is known of `ifindex` into `out`; false (and an empty name)
  // if unknown.
  bool link_of(std::uint32_t ifindex, Link& out) const;
  // The MTU of `ifindex`; 0 if unknown.
  [[nodiscard]] std::uint32_t mtu_of(std::uint32_t ifindex) const override;

 private:
  using NameMap = std::unordered_map<std::uint32_t, Link>;

  void apply(const ::nlmsghdr& message, bool from_dump, bool also_dumped);

  // Lock order: daemon/LOCKING.md.
  mutable std::shared_mutex mutex_;
  NameMap names_;
  NameMap dumped_;  // what the running dump has seen so far; the reader's thread only
  NetlinkReader reader_;
};

}  // namespace verdictd
