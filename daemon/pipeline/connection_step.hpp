// The connection steps the packet path runs between a hook's tables (see
// ConnectionSteps): the tracker where the kernel's conntrack runs, and the
// rewrite of a bound connection's packet where its nat hook function runs.
// Pure code over the flow table, so it runs the same in the daemon and in
// the tests and fuzz targets that drive whole hooks in-process.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "conntrack/flow.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/tracker.hpp"
#include "pipeline/engine.hpp"

namespace verdictd {

// What the connection step needs to know of the queued packet besides its bytes.
struct QueuedFacts {
  std::uint32_t in_ifindex = 0;     // 0 when the hook has none
  bool cut_short = false;           // the queue copied less than the whole packet
  bool checksum_not_ready = false;  // NFQA_SKB_CSUMNOTREADY: L4 checksum is partial
};

class ConnectionStep final : public ConnectionSteps {
 public:
  // `track`: the packet is tracked at this hook, not recalled (tracks_at).
  // `bindable`: the ruleset's bindable_manips for the packet's family
  // (pipeline/unknown_binding.hpp). `rewritten` holds the translated packet, which
  // translate's view points into.
  ConnectionStep(FlowTable& flows, Tracker& tracker, PacketConntrack& ct, Hook hook, bool track,
                 std::uint8_t bindable, const QueuedFacts& queued,
                 std::vector<std::uint8_t>& rewritten);

  [[nodiscard]] bool arrives_tracked() const override { return arrives_tracked_; }
  void track(const PacketView& packet, EvalState& state) override;
  const PacketView& translate(const PacketView& packet, EvalState& state) override;

  // The packet had to be translated and could not be (the kernel drops it), or
  // its connection's binding is unknown.
  [[nodiscard]] bool failed() const { return failed_; }
  // The packet to hand back, when it was translated.
  [[nodiscard]] std::span<const std::uint8_t> translated() const {
    return view_.bytes.empty() ? std::span<const std::uint8_t>() : view_.bytes;
  }

 private:
  FlowTable* flows_;
  Tracker* tracker_;
  PacketConntrack* ct_;
  bool arrives_tracked_;
  bool track_;
  std::uint8_t bindable_;
  QueuedFacts queued_;
  std::vector<std::uint8_t>* rewritten_;
  PacketView view_;
  bool failed_ = false;
};

}  // namespace verdictd
