// NAT bindings kept across a restart or a crash of verdictd: a file of
// fixed-size slots, one per bound connection, mapped MAP_SHARED. A binding is
// written with plain memory writes when it is made (no system call on the
// packet path), and what was written stays in the page cache when the process
// dies, even by SIGKILL. Each slot carries a CRC32c of its contents, so a
// slot torn by a death in mid-write is ignored when read back. A slot is freed
// when its flow goes, so the file never holds more than conntrack_max slots.
// It lives in /run/verdictd (a tmpfs): it survives the process, not a reboot,
// which ends the kernel's connections too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "conntrack/binding_journal.hpp"

namespace verdictd {

class BindingStore final : public BindingJournal {
 public:
  // Reads the bindings the file at `path` holds (none when it is missing or
  // not a store), then prepares an empty store of `slots` slots beside it,
  // `path`.new, which replaces it at commit(): until then a restart still
  // reads the old one. Throws std::runtime_error with a one-line reason.
  BindingStore(std::string path, std::size_t slots);
  ~BindingStore() override;
  BindingStore(const BindingStore&) = delete;
  BindingStore& operator=(const BindingStore&) = delete;
  BindingStore(BindingStore&&) = delete;
  BindingStore& operator=(BindingStore&&) = delete;

  // What the file held when opened: flows with their tuples, NAT status bits,
  // manipulations done and MASQUERADE's interface.
  [[nodiscard]] const std::vector<Flow>& previous() const { return previous_; }
  // Makes the new file the store. Throws std::runtime_error.
  void commit();

  std::uint32_t record(const Flow& flow) override;
  void release(std::uint32_t slot) override;

  // Slots holding a binding.
  [[nodiscard]] std::size_t used() const;

 private:
  std::string path_;
  std::size_t slots_;
  std::vector<Flow> previous_;
  std::byte* map_ = nullptr;
  std::size_t map_size_ = 0;
  // Lock order: daemon/LOCKING.md.
  mutable std::mutex mutex_;
  std::uint32_t next_unused_ = 0;    // slots from here on were never used
  std::vector<std::uint32_t> free_;  // released slots below next_unused_
};

}  // namespace verdictd
