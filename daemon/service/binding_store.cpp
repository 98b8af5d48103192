#include "service/binding_store.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <stdexcept>

#include "packet/checksum.hpp"

namespace verdictd {

namespace {

constexpr std::array<char, 8> kMagic = {'V', 'D', 'N', 'A', 'T', 'B', 'N', 'D'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kUsed = 0x55534544;  // "USED"; anything else is a free slot

struct Header {
  std::array<char, 8> magic;
  std::uint32_t version;
  std::uint32_t slot_size;
  std::uint32_t slot_count;
  std::array<std::uint8_t, 44> reserved;
};
static_assert(sizeof(Header) == 64);

struct StoredTuple {
  std::uint8_t family;
  std::uint8_t protocol;
  std::uint16_t zone;
  std::uint16_t source_port;
  std::uint16_t destination_port;
  std::array<std::uint8_t, 16> source;
  std::array<std::uint8_t, 16> destination;
};
static_assert(sizeof(StoredTuple) == 40);

struct Slot {
  std::uint32_t crc;  // CRC32c of everything after it
  std::uint32_t used;
  StoredTuple original;
  StoredTuple reply;
  std::uint32_t status;  // ctstatus::kNat bits
  std::uint32_t masquerade_ifindex;
  std::uint8_t nat_done;
  std::array<std::uint8_t, 31> reserved;
};
static_assert(sizeof(Slot) == 128);

std::runtime_error failure(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

std::uint32_t slot_crc(const Slot& slot) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(&slot);
  return checksum::crc32c(std::span(bytes + sizeof(slot.crc), sizeof(Slot) - sizeof(slot.crc)));
}

StoredTuple encode(const Tuple& tuple) {
  return {.family = static_cast<std::uint8_t>(tuple.family),
          .protocol = tuple.protocol,
          .zone = tuple.zone,
          .source_port = tuple.source_port,
          .destination_port = tuple.destination_port,
          .source = tuple.source.bytes,
          .destination = tuple.destination.bytes};
}

std::optional<Tuple> decode(const StoredTuple& stored) {
  const auto family = static_cast<Family>(stored.family);
  if (family != Family::kIPv4 && family != Family::kIPv6) return std::nullopt;
  return Tuple{.family = family,
               .protocol = stored.protocol,
               .zone = stored.zone,
               .source = {.family = family, .bytes = stored.source},
               .destination = {.family = family, .bytes = stored.destination},
               .source_port = stored.source_port,
               .destination_port = stored.destination_port};
}

std::optional<Flow> decode(const Slot& slot) {
  if (slot.used != kUsed || slot.crc != slot_crc(slot)) return std::nullopt;
  const auto original = decode(slot.original);
  const auto reply = decode(slot.reply);
  if (!original || !reply) return std::nullopt;
  Flow flow;
  flow.original = *original;
  flow.reply = *reply;
  flow.status = slot.status & ctstatus::kNat;
  flow.masquerade_ifindex = slot.masquerade_ifindex;
  flow.nat_done = slot.nat_done & natmanip::kBoth;
  return flow;
}

// The valid slots of the store at `path`; nothing when there is none.
std::vector<Flow> read_store(const std::string& path) {
  std::vector<Flow> flows;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return flows;
    throw failure("cannot open", path);
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    ::close(fd);
    throw failure("cannot read", path);
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size < sizeof(Header)) {
    ::close(fd);
    return flows;
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw failure("cannot map", path);
  Header header{};
  std::memcpy(&header, map, sizeof header);
  if (header.magic == kMagic && header.version == kVersion && header.slot_size == sizeof(Slot)) {
    const std::size_t count =
        std::min<std::size_t>(header.slot_count, (size - sizeof(Header)) / sizeof(Slot));
    const auto* first = static_cast<const std::byte*>(map) + sizeof(Header);
    for (std::size_t i = 0; i < count; ++i) {
      Slot slot{};
      std::memcpy(&slot, first + i * sizeof(Slot), sizeof slot);
      if (auto flow = decode(slot)) flows.push_back(*flow);
    }
  }
  munmap(map, size);
  return flows;
}

}  // namespace

BindingStore::BindingStore(std::string path, std::size_t slots)
    : path_(std::move(path)), slots_(slots), previous_(read_store(path_)) {
  const std::string fresh = path_ + ".new";
  const int fd = ::open(fresh.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw failure("cannot create", fresh);
  map_size_ = sizeof(Header) + slots_ * sizeof(Slot);
  // Sparse: only the pages of slots in use take memory.
  if (ftruncate(fd, static_cast<off_t>(map_size_)) != 0) {
    ::close(fd);
    throw failure("cannot size", fresh);
  }
  void* map = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw failure("cannot map", fresh);
  map_ = static_cast<std::byte*>(map);
  const Header header{.magic = kMagic,
                      .version = kVersion,
                      .slot_size = sizeof(Slot),
                      .slot_count = static_cast<std::uint32_t>(slots_),
                      .reserved = {}};
  std::memcpy(map_, &header, sizeof header);
  // Releasing never allocates: on the packet path, under the flow table's lock.
  free_.reserve(slots_);
}

BindingStore::~BindingStore() {
  if (map_ != nullptr) munmap(map_, map_size_);
}

void BindingStore::commit() {
  if (std::rename((path_ + ".new").c_str(), path_.c_str()) != 0) {
    throw failure("cannot replace", path_);
  }
}

std::uint32_t BindingStore::record(const Flow& flow) {
  const std::lock_guard lock(mutex_);
  std::uint32_t index = flow.binding_slot;
  if (index == kNoBindingSlot) {
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else if (next_unused_ < slots_) {
      index = next_unused_++;
    } else {
      return kNoBindingSlot;
    }
  }
  Slot slot{};
  slot.used = kUsed;
  slot.original = encode(flow.original);
  slot.reply = encode(flow.reply);
  slot.status = flow.status & ctstatus::kNat;
  slot.masquerade_ifindex = flow.masquerade_ifindex;
  slot.nat_done = flow.nat_done;
  slot.crc = slot_crc(slot);
  std::memcpy(map_ + sizeof(Header) + std::size_t{index} * sizeof(Slot), &slot, sizeof slot);
  return index;
}

void BindingStore::release(std::uint32_t slot) {
  const std::lock_guard lock(mutex_);
  if (slot >= next_unused_) return;
  const std::uint32_t free_mark = 0;
  std::memcpy(map_ + sizeof(Header) + std::size_t{slot} * sizeof(Slot) + offsetof(Slot, used),
              &free_mark, sizeof free_mark);
  free_.push_back(slot);
}

std::size_t BindingStore::used() const {
  const std::lock_guard lock(mutex_);
  return next_unused_ - free_.size();
}

}  // namespace verdictd
