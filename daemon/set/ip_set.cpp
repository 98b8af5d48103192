#include "set/ip_set.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <mutex>
#include <random>

namespace verdictd {

namespace {

constexpr std::size_t kHintBuckets = 65536;
constexpr std::uint8_t kIpv4HintReach = 16;  // lengths from /16 are kept per /16
constexpr std::uint8_t kIpv6HintReach = 32;  // lengths from /32 per hashed /32
constexpr SetTime kMillisecondsPerSecond = 1000;

void set_bit(std::array<std::uint64_t, 3>& mask, std::uint8_t bit) {
  mask[bit / 64] |= std::uint64_t{1} << (bit % 64);
}

}  // namespace

bool CounterCondition::count_and_compare(std::uint64_t& element_packets,
                                         std::uint64_t& element_bytes,
                                         std::uint64_t packet_bytes) const {
  const auto compare = [](Op op, std::uint64_t value, std::uint64_t against) {
    switch (op) {
      case Op::kNone:
        return true;
      case Op::kEq:
        return value == against;
      case Op::kNe:
        return value != against;
      case Op::kLt:
        return value < against;
      case Op::kGt:
        return value > against;
    }
    return true;
  };
  std::atomic_ref<std::uint64_t> packet_count(element_packets);
  std::atomic_ref<std::uint64_t> byte_count(element_bytes);
  std::uint64_t packets_now = packet_count.load(std::memory_order_relaxed);
  std::uint64_t bytes_now = byte_count.load(std::memory_order_relaxed);
  if (update) {
    packets_now = packet_count.fetch_add(1, std::memory_order_relaxed) + 1;
    bytes_now = byte_count.fetch_add(packet_bytes, std::memory_order_relaxed) + packet_bytes;
  }
  return compare(packets_op, packets_now, packets) && compare(bytes_op, bytes_now, bytes);
}

SetTime set_clock_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

IpSet::IpSet(std::string name, const SetOptions& options)
    : name_(std::move(name)),
      options_(options),
      codec_(*options.type, options.family, options.netmask),
      seed_(std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32)) {
  if (options_.type->networks) hint_words_ = options_.family == Family::kIPv4 ? 1 : kLengthWords;
}

IpSet::IpSet(const IpSet& other)
    : ExtensionState(),
      name_(other.name_),
      options_(other.options_),
      codec_(other.codec_),
      seed_(other.seed_),
      counts_(other.counts_),
      present_(other.present_),
      hint_words_(other.hint_words_),
      hint_(other.hint_),
      entries_(other.entries_),
      free_entries_(other.free_entries_),
      size_(other.size_) {
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    if (other.tables_[i]) tables_[i] = std::make_unique<KeyTable>(*other.tables_[i]);
  }
  if (other.direct_) direct_ = std::make_unique<DirectIndex>(*other.direct_);
}

std::unique_ptr<IpSet> IpSet::clone() const {
  const std::shared_lock lock(mutex_);
  return std::unique_ptr<IpSet>(new IpSet(*this));
}

std::size_t IpSet::bucket(const std::uint64_t* key) const {
  if (options_.family == Family::kIPv4) return static_cast<std::size_t>(key[0] >> 16);
  constexpr std::uint64_t kOdd = 0x9e3779b97f4a7c15ULL;
  return static_cast<std::size_t>(((key[0] >> 32) * kOdd) >> 48);
}

bool IpSet::expired(std::uint32_t ref, SetTime now) const {
  if (!options_.timeout) return false;
  const SetTime expires = entries_[(ref & ~kNomatchBit) - 1].expires;
  return expires != 0 && expires <= now;
}

// As ip_set_match_extensions and the type's data_match: an expired element
// is not there; the counters count the packet, then must pass.
SetTest IpSet::decide(std::uint32_t ref, SetTime now, const CounterCondition* counters,
                      std::uint64_t packet_bytes) const {
  if (expired(ref, now)) return SetTest::kAbsent;
  if (options_.counters && counters != nullptr) {
    // The entry's counters are shared by every reader: atomic, and not
    // guarded by the shared lock (the entries vector itself is).
    auto& entry = const_cast<Entry&>(entries_[(ref & ~kNomatchBit) - 1]);
    if (!counters->count_and_compare(entry.packets, entry.bytes, packet_bytes)) {
      return SetTest::kAbsent;
    }
  }
  return (ref & kNomatchBit) != 0 ? SetTest::kNomatch : SetTest::kMatch;
}

SetTest IpSet::lookup(const SetKey& key, SetTime now, const CounterCondition* counters,
                      std::uint64_t packet_bytes) const {
  if (!direct_) return longest(key, now, counters, packet_bytes);
  const auto address = static_cast<std::uint32_t>(key[0]);
  const std::uint32_t ref = direct_->find(address);
  if (ref == 0) return SetTest::kAbsent;
  const SetTest result = decide(ref, now, counters, packet_bytes);
  if (result != SetTest::kAbsent) return result;
  // Expired, or its counters fail: the probes would go on to the shorter
  // prefixes (mtype_test_cidrs), so they do here.
  return longest(key, now, counters, packet_bytes, direct_->length(address));
}

SetTest IpSet::longest(const SetKey& key, SetTime now, const CounterCondition* counters,
                       std::uint64_t packet_bytes, std::size_t below) const {
  LengthMask candidates = present_;
  for (std::size_t w = 0; w < kLengthWords; ++w) {
    const std::size_t from = w * 64;
    if (below <= from) {
      candidates[w] = 0;
    } else if (below < from + 64) {
      candidates[w] &= (std::uint64_t{1} << (below - from)) - 1;
    }
  }
  if (!hint_.empty()) {
    const std::uint64_t* near = &hint_[bucket(key.data()) * hint_words_];
    for (std::size_t w = 0; w < kLengthWords; ++w) candidates[w] &= w < hint_words_ ? near[w] : 0;
  }
  // The candidate lengths, longest first, each table's line requested
  // before any is read: the probes' cache misses overlap.
  std::array<std::uint8_t, kMaxLengths> lengths{};
  std::array<SetKey, kMaxLengths> probes{};
  std::size_t count = 0;
  for (std::size_t w = kLengthWords; w-- > 0;) {
    for (std::uint64_t bits = candidates[w]; bits != 0;) {
      const int top = 63 - std::countl_zero(bits);
      bits &= ~(std::uint64_t{1} << top);
      const auto cidr = static_cast<std::uint8_t>(w * 64 + static_cast<std::size_t>(top));
      probes[count] = key;
      codec_.mask(probes[count].data(), cidr);
      tables_[cidr]->prefetch(probes[count].data());
      lengths[count++] = cidr;
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t ref = tables_[lengths[i]]->find(probes[i].data());
    if (ref == 0) continue;
    const SetTest result = decide(ref, now, counters, packet_bytes);
    if (result != SetTest::kAbsent) return result;
  }
  return SetTest::kAbsent;
}

SetTest IpSet::test(const SetKey& key, SetTime now, const CounterCondition& counters,
                    std::uint64_t packet_bytes) const {
  const std::shared_lock lock(mutex_);
  if (options_.type->networks) return lookup(key, now, &counters, packet_bytes);
  SetKey probe = key;
  const std::uint8_t cidr = codec_.fixed_length();
  if (codec_.address_words() != 0) codec_.mask(probe.data(), cidr);
  const KeyTable* table = tables_[cidr].get();
  const std::uint32_t ref = table == nullptr ? 0 : table->find(probe.data());
  return ref == 0 ? SetTest::kAbsent : decide(ref, now, &counters, packet_bytes);
}

SetTest IpSet::test_element(const SetElement& element, SetTime now) const {
  const std::shared_lock lock(mutex_);
  if (options_.type->networks && element.cidr == codec_.host_length()) {
    return lookup(element.key, now, nullptr, 0);
  }
  const KeyTable* table = tables_[element.cidr].get();
  const std::uint32_t ref = table == nullptr ? 0 : table->find(element.key.data());
  return ref == 0 ? SetTest::kAbsent : decide(ref, now, nullptr, 0);
}

void IpSet::note_length(const std::uint64_t* key, std::uint8_t cidr) {
  if (counts_[cidr]++ == 0) set_bit(present_, cidr);
  if (hint_words_ == 0) return;
  if (hint_.empty()) hint_.assign(kHintBuckets * hint_words_, 0);
  // Bits are set, never cleared but by flush: a stale one costs a probe.
  const std::uint64_t bit = std::uint64_t{1} << (cidr % 64);
  const std::uint8_t reach = options_.family == Family::kIPv4 ? kIpv4HintReach : kIpv6HintReach;
  if (cidr >= reach) {
    hint_[bucket(key) * hint_words_ + cidr / 64] |= bit;
    return;
  }
  // A shorter prefix covers many buckets: IPv4's each /16 under it; IPv6's
  // buckets are hashed, so every one.
  if (options_.family == Family::kIPv4) {
    const std::size_t first = bucket(key);
    const std::size_t covered = std::size_t{1} << (reach - cidr);
    for (std::size_t b = first; b < first + covered; ++b) hint_[b * hint_words_ + cidr / 64] |= bit;
  } else {
    for (std::size_t b = 0; b < kHintBuckets; ++b) hint_[b * hint_words_ + cidr / 64] |= bit;
  }
}

std::uint32_t IpSet::make_ref(const SetElement& element, SetTime now, const Entry* previous) {
  const std::uint32_t nomatch = element.nomatch ? kNomatchBit : 0;
  if (!has_entries()) return 1 | nomatch;
  Entry entry;
  if (previous != nullptr) {
    entry.packets = previous->packets;
    entry.bytes = previous->bytes;
  }
  if (options_.timeout) {
    const std::uint32_t seconds = element.timeout.value_or(*options_.timeout);
    entry.expires = seconds == 0 ? 0 : now + SetTime{seconds} * kMillisecondsPerSecond;
  }
  entry.packets = element.packets.value_or(entry.packets);
  entry.bytes = element.bytes.value_or(entry.bytes);
  if (element.comment) entry.comment = *element.comment;
  std::uint32_t index = 0;
  if (!free_entries_.empty()) {
    index = free_entries_.back();
    free_entries_.pop_back();
    entries_[index] = std::move(entry);
  } else {
    index = static_cast<std::uint32_t>(entries_.size());
    entries_.push_back(std::move(entry));
  }
  return (index + 1) | nomatch;
}

void IpSet::release(std::uint32_t ref) {
  if (has_entries()) free_entries_.push_back((ref & ~kNomatchBit) - 1);
}

IpSet::AddResult IpSet::add(const SetElement& element, bool exist, SetTime now) {
  const std::unique_lock lock(mutex_);
  std::unique_ptr<KeyTable>& table = tables_[element.cidr];
  if (!table) table = std::make_unique<KeyTable>(codec_.words(), seed_ + element.cidr);
  const std::uint32_t old = table->find(element.key.data());
  if (old != 0 && !exist && !expired(old, now)) return AddResult::kExists;
  if (old == 0 && size_ >= options_.maxelem) {
    drop_expired(now);
    if (size_ >= options_.maxelem) return AddResult::kFull;
  }
  const Entry* previous = old != 0 && has_entries() && !expired(old, now)
                              ? &entries_[(old & ~kNomatchBit) - 1]
                              : nullptr;
  const std::uint32_t ref = make_ref(element, now, previous);
  table->insert(element.key.data(), ref);
  if (old != 0) {
    release(old);
  } else {
    ++size_;
    note_length(element.key.data(), element.cidr);
  }
  if (direct_) {
    direct_->add(static_cast<std::uint32_t>(element.key[0]), element.cidr, ref);
  } else if (!loading_ && size_ >= options_.direct_index_from && may_index_directly()) {
    build_direct_index();
  }
  return AddResult::kAdded;
}

bool IpSet::may_index_directly() const {
  return options_.type->networks && options_.family == Family::kIPv4 && codec_.words() == 1 &&
         options_.maxelem < DirectIndex::kIndexMask;  // references below its flag bits
}

void IpSet::start_loading() {
  const std::unique_lock lock(mutex_);
  loading_ = true;
  direct_.reset();
}

void IpSet::finish_loading() {
  const std::unique_lock lock(mutex_);
  loading_ = false;
  if (size_ >= options_.direct_index_from && may_index_directly()) build_direct_index();
}

// In address order, a prefix before the longer ones it holds (it starts
// where they do or before): each overrides what it covers, and the index
// is written front to back.
void IpSet::build_direct_index() {
  struct Prefix {
    std::uint32_t start;
    std::uint8_t length;
    std::uint32_t ref;
  };
  std::vector<Prefix> prefixes;
  prefixes.reserve(size_);
  for (std::size_t cidr = 0; cidr <= codec_.host_length(); ++cidr) {
    if (!tables_[cidr]) continue;
    tables_[cidr]->for_each([&](std::span<const std::uint64_t> key, std::uint32_t ref) {
      prefixes.push_back(
          {static_cast<std::uint32_t>(key[0]), static_cast<std::uint8_t>(cidr), ref});
    });
  }
  std::sort(prefixes.begin(), prefixes.end(), [](const Prefix& a, const Prefix& b) {
    return a.start != b.start ? a.start < b.start : a.length < b.length;
  });
  direct_ = std::make_unique<DirectIndex>();
  direct_->reserve_chunks(static_cast<std::size_t>(std::count_if(
      prefixes.begin(), prefixes.end(), [](const Prefix& p) { return p.length > 24; })));
  for (const Prefix& p : prefixes) direct_->add(p.start, p.length, p.ref);
}

bool IpSet::erase(const std::uint64_t* key, std::uint8_t cidr) {
  KeyTable* table = tables_[cidr].get();
  const std::uint32_t ref = table == nullptr ? 0 : table->erase(key);
  if (ref == 0) return false;
  release(ref);
  --size_;
  if (--counts_[cidr] == 0) present_[cidr / 64] &= ~(std::uint64_t{1} << (cidr % 64));
  if (direct_) {
    // Its addresses go to the longest shorter prefix that covers it.
    std::uint32_t heir = 0;
    std::uint8_t heir_cidr = cidr;
    while (heir == 0 && heir_cidr-- > 0) {
      if (!tables_[heir_cidr]) continue;
      SetKey probe{};
      probe[0] = key[0];
      codec_.mask(probe.data(), heir_cidr);
      heir = tables_[heir_cidr]->find(probe.data());
    }
    direct_->remove(static_cast<std::uint32_t>(key[0]), cidr, heir, heir_cidr);
  }
  return true;
}

bool IpSet::del(const SetElement& element, SetTime now) {
  const std::unique_lock lock(mutex_);
  const KeyTable* table = tables_[element.cidr].get();
  const std::uint32_t ref = table == nullptr ? 0 : table->find(element.key.data());
  if (ref == 0) return false;
  const bool was_there = !expired(ref, now);
  erase(element.key.data(), element.cidr);
  return was_there;
}

void IpSet::drop_expired(SetTime now) {
  if (!options_.timeout) return;
  std::vector<std::pair<SetKey, std::uint8_t>> gone;
  for (std::size_t cidr = 0; cidr < tables_.size(); ++cidr) {
    if (!tables_[cidr]) continue;
    tables_[cidr]->for_each([&](std::span<const std::uint64_t> key, std::uint32_t ref) {
      if (!expired(ref, now)) return;
      SetKey copy{};
      std::copy(key.begin(), key.end(), copy.begin());
      gone.emplace_back(copy, static_cast<std::uint8_t>(cidr));
    });
  }
  for (const auto& [key, cidr] : gone) erase(key.data(), cidr);
}

void IpSet::flush() {
  const std::unique_lock lock(mutex_);
  for (auto& table : tables_) table.reset();
  counts_.fill(0);
  present_.fill(0);
  hint_.clear();
  direct_.reset();
  entries_.clear();
  free_entries_.clear();
  size_ = 0;
}

std::size_t IpSet::size(SetTime now) const {
  const std::shared_lock lock(mutex_);
  if (!options_.timeout) return size_;
  std::size_t live = 0;
  for (const auto& table : tables_) {
    if (!table) continue;
    table->for_each([&](std::span<const std::uint64_t> /*key*/, std::uint32_t ref) {
      live += expired(ref, now) ? 0 : 1;
    });
  }
  return live;
}

std::vector<ListedElement> IpSet::list(SetTime now) const {
  const std::shared_lock lock(mutex_);
  std::vector<ListedElement> out;
  out.reserve(size_);
  // Longest prefixes first, as the lookup goes.
  for (std::size_t cidr = tables_.size(); cidr-- > 0;) {
    if (!tables_[cidr]) continue;
    tables_[cidr]->for_each([&](std::span<const std::uint64_t> key, std::uint32_t ref) {
      if (expired(ref, now)) return;
      ListedElement listed;
      listed.text = codec_.text(key, static_cast<std::uint8_t>(cidr));
      listed.nomatch = (ref & kNomatchBit) != 0;
      if (has_entries()) {
        const Entry& entry = entries_[(ref & ~kNomatchBit) - 1];
        if (options_.timeout) {
          listed.timeout =
              entry.expires == 0
                  ? 0
                  : static_cast<std::uint32_t>((entry.expires - now) / kMillisecondsPerSecond);
        }
        if (options_.counters) {
          listed.packets = std::atomic_ref<const std::uint64_t>(entry.packets).load();
          listed.bytes = std::atomic_ref<const std::uint64_t>(entry.bytes).load();
        }
        if (options_.comment) listed.comment = entry.comment;
      }
      out.push_back(std::move(listed));
    });
  }
  return out;
}

std::uint8_t IpSet::packet_cidr() const {
  if (!options_.type->networks) return codec_.fixed_length();
  const std::shared_lock lock(mutex_);
  for (std::size_t w = kLengthWords; w-- > 0;) {
    if (present_[w] != 0) {
      return static_cast<std::uint8_t>(w * 64 + 63 -
                                       static_cast<std::size_t>(std::countl_zero(present_[w])));
    }
  }
  return codec_.host_length();
}

}  // namespace verdictd
