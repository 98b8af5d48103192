// Interface names by ifindex, kept current through rtnetlink (links created,
// renamed and removed while the daemon runs).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>

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
  struct Socket;
  using NameMap = std::unordered_map<std::uint32_t, InterfaceName>;

  void run();
  // Asks for a full dump; its result replaces the map when it completes.
  void request_dump();
  // Reads what is waiting on the socket (blocking when `wait`) and applies it.
  void receive(bool wait);
  void apply(std::span<const std::uint8_t> datagram);

  // Lock order: daemon/LOCKING.md.
  mutable std::shared_mutex mutex_;
  NameMap names_;
  std::unique_ptr<Socket> socket_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace verdictd
