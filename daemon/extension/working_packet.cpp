#include "extension/working_packet.hpp"

#include "nat/rewrite.hpp"

namespace verdictd {

std::vector<std::uint8_t>* WorkingPacket::bytes() {
  if (rewritten_) return buffer_;
  if (cut_short_) return nullptr;
  buffer_->assign(view_.bytes.begin(), view_.bytes.end());
  if (view_.checksum == ChecksumInfo::kPartial && !complete_checksums(*buffer_)) return nullptr;
  rewritten_ = true;
  reparse();
  return buffer_;
}

void WorkingPacket::reparse() {
  // The length the queue reported matters only for a GSO packet over 64 KiB,
  // whose header says 0; the copy keeps it.
  const std::uint32_t queued_length = view_.length;
  view_ = PacketView::parse(*buffer_, queued_length);
  // Every rewriter leaves final checksums (see bytes()).
  view_.checksum = ChecksumInfo::kVerified;
}

}  // namespace verdictd
