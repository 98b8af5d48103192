// Where the flow table writes NAT bindings down so that the next run of
// verdictd finds them (service/binding_store.hpp keeps them in a file).
// Called under the flow table's lock, on the packet path: an implementation
// must not block.
#pragma once

#include <cstdint>

#include "conntrack/flow.hpp"

namespace verdictd {

class BindingJournal {
 public:
  BindingJournal() = default;
  BindingJournal(const BindingJournal&) = delete;
  BindingJournal& operator=(const BindingJournal&) = delete;
  BindingJournal(BindingJournal&&) = delete;
  BindingJournal& operator=(BindingJournal&&) = delete;
  virtual ~BindingJournal() = default;

  // Writes the binding of `flow` (both tuples, its NAT status bits, the
  // manipulations done, MASQUERADE's interface) into flow.binding_slot, or
  // into a free slot when it has none. Returns the slot; kNoBindingSlot when
  // every slot is taken.
  virtual std::uint32_t record(const Flow& flow) = 0;
  // The flow is gone: its slot is free again.
  virtual void release(std::uint32_t slot) = 0;
};

}  // namespace verdictd
