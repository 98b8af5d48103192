// The daemon's own kernel rules that send each hook's packets to its queues.
// They live in chains verdictd owns (VERDICTD-<HOOK>), reached by one jump rule
// at the top of the built-in chain; every change is one iptables-restore
// --noflush transaction per family; base chains and tables are never deleted
// (that would make the kernel drop every queued packet in the namespace).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "packet/hooks.hpp"

namespace verdictd {

enum class SteeringBackend : std::uint8_t { kNft, kLegacy };

struct HookQueues {
  std::uint16_t first = 0;
  std::uint16_t count = 1;  // more than one: --queue-balance first:first+count-1
};

struct SteeringPlan {
  FamilyHooks hooks;  // hooks to steer per family; the others get an empty chain
  std::array<HookQueues, kHookCount> queues{};
  bool fail_open = false;  // --queue-bypass: accept when no verdictd listens
  // Packets verdictd hands back (NF_REPEAT) carrying this mark bit are
  // exempted from the kernel's conntrack at PREROUTING and OUTPUT; 0 for none.
  std::uint32_t untracked_mark = 0;
  // Families whose packets the kernel's conntrack must track: it runs only
  // where some rule needs it, and verdictd's mirror needs the kernel to track.
  FamilyMask kernel_tracking = 0;
  // The steered hooks drop every packet instead (no usable ruleset).
  bool drop = false;
};

// The two families are changed at the same time, each by its own transaction.
class Steering {
 public:
  explicit Steering(SteeringBackend backend);
  // Installs or updates the steering for both families. Replaces leftovers of
  // an earlier run. Throws std::runtime_error with iptables' message on failure.
  // What it wrote is kept, for repair().
  void apply(const SteeringPlan& plan);
  // Fail-closed stop: the owned chains of `hooks` (those that were steered)
  // drop everything, as no queue is read any more; the others stay empty.
  // When it returns, every packet the old rules queued is in its queue's
  // socket, and nothing new is queued. Nothing is left to repair().
  void close(const FamilyHooks& hooks);
  // Removes the jump rules and the owned chains; returns as close() does.
  void remove();
  // Checks that the tables of `families` still hold what the last apply()
  // wrote (a flush, a restore of the table or a deleted rule changes them
  // behind verdictd's back) and writes it again where they do not. Returns
  // what was wrong ("ipv4: 2 of 9 steering lines missing or moved"), "" when nothing.
  std::string repair(FamilyMask families);

 private:
  enum class Reading : std::uint8_t { kAlways, kUnlessWritten };
  // One family's transaction; `remember` keeps what iptables-save then shows.
  // `saved`: the family's tables as just read, if they were.
  void install(Family family, const SteeringPlan& plan, Reading reading, bool remember,
               const std::string* saved = nullptr);

  // The last apply()'s plan, while it is in force.
  std::optional<SteeringPlan> applied_;
  // Per family, our lines as iptables-save printed them after apply() wrote them.
  std::array<std::string, kFamilyCount> expected_;
  // Per family (IPv4, IPv6): this object's last transaction there succeeded,
  // so close() and remove() take the tables to hold what it wrote rather than
  // read them first (an iptables-save per table). apply() always reads.
  std::array<bool, kFamilyCount> written_{};
  SteeringBackend backend_;
};

// The chain verdictd owns at a hook, and the table it sits in: raw for
// PREROUTING and OUTPUT (before the kernel's conntrack), mangle otherwise.
std::string steering_chain(Hook h);
TableId steering_table(Hook h);

}  // namespace verdictd
