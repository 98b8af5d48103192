// A named set's contents, as the kernel's ipset keeps them: the elements of
// one type and family, with optional timeouts, counters, comments and (for
// the net types) nomatch elements. Lives in the state store beside the
// ruleset (ruleset/rule_state.hpp, by the name "set"/NAME), so runtime
// changes survive a reload.
//
// The net types keep one hash table per prefix length present and look an
// address up longest prefix first, as ipset's hash:net does (one probe per
// length present; the first element found decides, so a nomatch /24 inside
// a /8 wins). Which lengths are present is also kept per /16 of IPv4 (per
// hashed /32 of IPv6): a lookup probes only the lengths present near the
// address, whatever the set holds elsewhere, and requests all their table
// lines before reading any, so their cache misses overlap.
//
// A large IPv4 hash:net set (from SetOptions::direct_index_from elements)
// also keeps a DirectIndex (set/direct_index.hpp, 64 MiB and more): the
// longest prefix of every address, read in one or two memory accesses
// whatever the prefixes. The tables stay the truth; every add and delete
// updates the index too.
//
// Locking: one reader-writer lock per set. Packet threads test under the
// shared lock (counters are atomic); add, del, flush and the SET target
// take it exclusively. It is a leaf: nothing else is locked while it is
// held, and no set's lock is taken while another's is held.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "extension/extension_state.hpp"
#include "set/direct_index.hpp"
#include "set/key_table.hpp"
#include "set/set_element.hpp"

namespace verdictd {

// Milliseconds on the steady clock: when elements expire.
using SetTime = std::int64_t;
SetTime set_clock_now();

inline constexpr std::uint32_t kDefaultMaxElements = 65536;
inline constexpr std::uint32_t kDefaultHashSize = 1024;
// A set of a few thousand elements keeps its tables in the cache, where the
// probes are cheap; from there the direct index's 80 MiB pay for themselves.
inline constexpr std::uint32_t kDirectIndexElements = 4096;

struct SetOptions {
  const SetType* type = nullptr;
  Family family = Family::kIPv4;
  // The default timeout in seconds; set when the set supports timeouts.
  std::optional<std::uint32_t> timeout;
  bool counters = false;
  bool comment = false;
  std::uint32_t maxelem = kDefaultMaxElements;
  std::uint32_t hashsize = kDefaultHashSize;  // kept for `ipset save` text only
  std::uint8_t netmask = 0;                   // hash:ip: addresses masked to it
  std::uint16_t first_port = 0;               // bitmap:port's range
  std::uint16_t last_port = 0;
  // IPv4 hash:net: the size from which the set keeps a direct index.
  std::uint32_t direct_index_from = kDirectIndexElements;
};

enum class SetTest : std::uint8_t {
  kAbsent,   // no element (or none whose counters pass)
  kMatch,    // an element
  kNomatch,  // a nomatch element (the kernel's -ENOTEMPTY)
};

// The set match's counter options (--packets-eq ... --bytes-gt), and whether
// the element's counters count the packet (--update-counters).
struct CounterCondition {
  enum class Op : std::uint8_t { kNone, kEq, kNe, kLt, kGt };
  Op packets_op = Op::kNone;
  std::uint64_t packets = 0;
  Op bytes_op = Op::kNone;
  std::uint64_t bytes = 0;
  bool update = true;

  // ip_set_match_extensions' counters: the packet of `packet_bytes` counted
  // into an element's counters (unless !update; atomically, since readers
  // share the element), then whether they pass.
  bool count_and_compare(std::uint64_t& element_packets, std::uint64_t& element_bytes,
                         std::uint64_t packet_bytes) const;
};

struct ListedElement {
  std::string text;                      // the element as ipset writes it
  std::optional<std::uint32_t> timeout;  // seconds left, with timeout support
  bool nomatch = false;
  std::optional<std::uint64_t> packets;  // with counters
  std::optional<std::uint64_t> bytes;
  std::optional<std::string> comment;  // with comments
};

class IpSet final : public ExtensionState {
 public:
  enum class AddResult : std::uint8_t { kAdded, kExists, kFull };

  IpSet(std::string name, const SetOptions& options);
  // A fresh set with the same elements: the live copy of a loaded one.
  [[nodiscard]] std::unique_ptr<IpSet> clone() const;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const SetOptions& options() const { return options_; }
  [[nodiscard]] const ElementCodec& codec() const { return codec_; }

  // The kernel's test of a packet: `key` holds each dimension, the first
  // address whole. The element found has its counters updated as `counters`
  // says, and must pass its conditions.
  SetTest test(const SetKey& key, SetTime now, const CounterCondition& counters,
               std::uint64_t packet_bytes) const;
  // As `ipset test`: a host address (or non-net element) by longest prefix,
  // a network exactly; no counter changes.
  [[nodiscard]] SetTest test_element(const SetElement& element, SetTime now) const;
  // Adds or, with `exist`, replaces (a new timeout, comment, nomatch).
  AddResult add(const SetElement& element, bool exist, SetTime now);
  // False when the element is not there.
  bool del(const SetElement& element, SetTime now);
  void flush();
  [[nodiscard]] std::size_t size(SetTime now) const;
  [[nodiscard]] std::vector<ListedElement> list(SetTime now) const;
  // Loading: the adds between these two leave the direct index alone; the
  // end builds it in one pass in address order (a million random adds
  // would each miss the cache in it).
  void start_loading();
  void finish_loading();
  // The prefix length a packet's address is added or deleted with by the
  // SET target: the longest present, or the host's (the kernel's INIT_CIDR).
  [[nodiscard]] std::uint8_t packet_cidr() const;

 private:
  // Per element with timeout, counters or comment.
  struct Entry {
    SetTime expires = 0;  // 0: never
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::string comment;
  };
  static constexpr std::uint32_t kNomatchBit = 0x80000000U;
  static constexpr std::size_t kLengthWords = 3;  // prefix lengths 0-128
  static constexpr std::size_t kMaxLengths = 129;
  using LengthMask = std::array<std::uint64_t, kLengthWords>;

  IpSet(const IpSet& other);
  [[nodiscard]] bool has_entries() const {
    return options_.timeout.has_value() || options_.counters || options_.comment;
  }
  [[nodiscard]] bool expired(std::uint32_t ref, SetTime now) const;
  SetTest decide(std::uint32_t ref, SetTime now, const CounterCondition* counters,
                 std::uint64_t packet_bytes) const;
  // The element of the longest prefix holding the address decides: from
  // the direct index when the set has one, else by longest().
  SetTest lookup(const SetKey& key, SetTime now, const CounterCondition* counters,
                 std::uint64_t packet_bytes) const;
  // Probes each length present near the address, longest first, from the
  // longest shorter than `below`.
  SetTest longest(const SetKey& key, SetTime now, const CounterCondition* counters,
                  std::uint64_t packet_bytes, std::size_t below = kMaxLengths) const;
  [[nodiscard]] bool may_index_directly() const;
  void build_direct_index();
  [[nodiscard]] std::size_t bucket(const std::uint64_t* key) const;
  void note_length(const std::uint64_t* key, std::uint8_t cidr);
  void release(std::uint32_t ref);
  std::uint32_t make_ref(const SetElement& element, SetTime now, const Entry* previous);
  void drop_expired(SetTime now);
  bool erase(const std::uint64_t* key, std::uint8_t cidr);

  std::string name_;
  SetOptions options_;
  ElementCodec codec_;
  std::uint64_t seed_;

  mutable std::shared_mutex mutex_;
  std::array<std::unique_ptr<KeyTable>, 129> tables_;  // by prefix length
  std::array<std::uint32_t, 129> counts_{};
  LengthMask present_{};
  std::size_t hint_words_ = 0;  // LengthMask words per bucket (1 or 3)
  // Per bucket (IPv4's /16, IPv6's hashed /32): the lengths of the elements
  // that may hold its addresses (a shorter prefix marks every bucket it covers).
  std::vector<std::uint64_t> hint_;
  std::vector<Entry> entries_;  // with has_entries(), by reference - 1
  std::vector<std::uint32_t> free_entries_;
  std::size_t size_ = 0;
  std::unique_ptr<DirectIndex> direct_;  // large IPv4 hash:net sets only
  bool loading_ = false;
};

}  // namespace verdictd
