// The packet a hook's stages work on. At first it is the packet as the queue
// delivered it; the first rewrite (a NAT translation, a mangle target) copies
// it into a buffer of the caller's, and from then on the later rules and
// stages see the copy, which goes back to the kernel with the verdict — as
// the kernel's targets change the skb in place and later rules see the change.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "packet/packet.hpp"

namespace verdictd {

class WorkingPacket {
 public:
  // `received` must outlive this; `buffer` holds the rewritten copy.
  // `cut_short`: the queue copied less than the whole packet, which can then
  // not be handed back, so not rewritten.
  WorkingPacket(const PacketView& received, std::vector<std::uint8_t>& buffer, bool cut_short)
      : view_(received), buffer_(&buffer), cut_short_(cut_short) {}

  // The packet as it stands. The reference stays valid across rewrites and
  // shows each (reparse), so a chain walk holding it sees what a target did.
  [[nodiscard]] const PacketView& view() const { return view_; }

  // The bytes to rewrite, network header first, copied on first use with a
  // partial transport checksum filled in (the kernel takes a payload handed
  // back as fully checksummed, nfqnl_mangle): every rewriter may then update
  // checksums incrementally. Null when the packet cannot be handed back
  // (cut short, or a partial checksum that cannot be completed: a fragment).
  // A rewriter may resize it (TCPMSS adds an option) and must call reparse.
  std::vector<std::uint8_t>* bytes();

  // The view parsed again from the rewritten bytes.
  void reparse();

  // True once the packet was copied for rewriting: it goes back with the verdict.
  [[nodiscard]] bool rewritten() const { return rewritten_; }

 private:
  PacketView view_;
  std::vector<std::uint8_t>* buffer_;
  bool cut_short_;
  bool rewritten_ = false;
};

}  // namespace verdictd
