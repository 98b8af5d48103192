// The kernel's own conntrack table, asked (a ctnetlink get) about a
// connection the flow table lacks while its NEW event may still be on its
// way. Asynchronous: a question is sent and its answer collected later, so
// that the packet waiting for it is parked (parking_lot.hpp) while the queue
// goes on with the others.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "conntrack/tuple.hpp"

namespace verdictd {

class KernelLookup {
 public:
  using Ticket = std::uint32_t;

  KernelLookup() = default;
  KernelLookup(const KernelLookup&) = delete;
  KernelLookup& operator=(const KernelLookup&) = delete;
  KernelLookup(KernelLookup&&) = delete;
  KernelLookup& operator=(KernelLookup&&) = delete;
  virtual ~KernelLookup() = default;

  // Asks about the connection holding `tuple` (either direction); the ticket
  // its answer will carry. nullopt when nothing was asked (the mirror knows
  // the kernel has no such connection, or the budget for asking is spent:
  // miss_policy.hpp): the packet is decided from the table at once.
  virtual std::optional<Ticket> ask(const Tuple& tuple) = 0;
  // Adds the tickets answered since the last call to `answered`, without
  // waiting. A connection the kernel had is in the flow table by then.
  virtual void collect(std::vector<Ticket>& answered) = 0;
  // No answer to `ticket` is awaited any more (it took too long): counted;
  // a late one is dropped (by then the mirror's events may be newer).
  virtual void abandon(Ticket ticket) = 0;
  // Readable (poll's POLLIN) when answers wait to be collected; -1 when
  // there is nothing to poll.
  [[nodiscard]] virtual int fd() const = 0;
};

}  // namespace verdictd
