// The cost of rule evaluation per packet, in-process: the INPUT hook's
// pipeline over ClassBench rule sets of 10, 1,000 and about 10,000 rules
// (acl1, fw1, ipc1), each with a ClassBench-style trace of packets made from
// its rules (bench/classbench_ruleset.py writes both, at build time, into
// build/bench/classbench). Each iteration judges the trace's next packet,
// round robin; Time is ns per packet. Before timing, every packet's verdict
// and the rule that decided it are checked against the script's linear scan.
// Each set runs twice: as packets pass when nobody traces them, and
// "/traced", every packet followed (verdictctl trace), its steps recorded.
// Usage: rule_evaluation [--benchmark_filter=...] [DIRECTORY]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "packets.hpp"  // tests/unit: hand-built packets
#include "pipeline/hook_pipeline.hpp"
#include "ruleset/loader.hpp"

namespace verdictd {
namespace {

using test::Bytes;

constexpr std::uint8_t kSyn = 0x02;
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr std::size_t kOpaqueTransportBytes = 8;  // GRE, ESP, AH: no field a rule reads
constexpr int kNoRule = -1;                       // the policy decides

// The pipeline as the queue worker runs it for a packet arriving on eth0 at
// INPUT, without connection tracking (ClassBench rules are stateless). The
// one call into the pipeline, kept in one place. `trace`: where a followed
// packet's steps go; null when nobody follows.
Verdict judge(const PipelineRules& rules, const PacketView& packet, PacketTrace* trace = nullptr) {
  HookPacket in;
  if (trace != nullptr) {
    trace->clear();
    trace->readers = PacketTrace::kTraceRuleReader;
    in.trace = trace;
  }
  in.hook = Hook::kInput;
  in.packet = packet;
  in.in_interface = "eth0";
  in.in_ifindex = 2;
  thread_local std::vector<std::uint8_t> rewritten;
  return run_hook(rules, in, nullptr, rewritten).verdict;
}

struct TracePacket {
  Bytes bytes;
  int rule = kNoRule;  // the first rule that matches it
};

Bytes transport_header(unsigned protocol, std::uint16_t sport, std::uint16_t dport) {
  switch (protocol) {
    case ipproto::kTcp:
      return test::tcp_header(test::Segment{sport, dport, kSyn, 1, 0, 0});
    case ipproto::kUdp:
      return test::udp_header(sport, dport);
    case ipproto::kIcmp:
      return test::icmp_message(kIcmpEchoRequest, 0);
    default:
      return Bytes(kOpaqueTransportBytes, 0);
  }
}

// Lines of "PROTOCOL SOURCE DESTINATION SPORT DPORT RULE".
std::vector<TracePacket> read_trace(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::vector<TracePacket> trace;
  unsigned protocol = 0;
  std::string source;
  std::string destination;
  unsigned sport = 0;
  unsigned dport = 0;
  int rule = kNoRule;
  while (in >> protocol >> source >> destination >> sport >> dport >> rule) {
    trace.push_back(
        {test::ipv4(static_cast<std::uint8_t>(protocol), source.c_str(), destination.c_str(),
                    transport_header(protocol, static_cast<std::uint16_t>(sport),
                                     static_cast<std::uint16_t>(dport))),
         rule});
  }
  if (trace.empty()) throw std::runtime_error(path.string() + ": no packets");
  return trace;
}

// ClassBench's rules are DROP and ACCEPT in turn (classbench_ruleset.py).
Verdict expected_verdict(int rule) {
  return rule != kNoRule && rule % 2 == 0 ? Verdict::kDrop : Verdict::kAccept;
}

class ClassBenchCase {
 public:
  ClassBenchCase(const std::filesystem::path& ruleset, const std::filesystem::path& trace)
      : ruleset_(load_ruleset_file(ruleset.string(), kDefaultRulesetMaxBytes)),
        state_(std::make_unique<RulesetState>(*ruleset_)),
        rules_(*ruleset_, *state_),
        trace_(read_trace(trace)) {
    views_.reserve(trace_.size());
    for (const TracePacket& packet : trace_) views_.push_back(PacketView::parse(packet.bytes));
  }

  [[nodiscard]] std::size_t rules() const { return input().rules.size(); }

  // Empty when verdictd judges every packet as the linear scan does: same
  // verdict, decided by the same rule (its counter is the one that moves).
  [[nodiscard]] std::string disagreement() const {
    for (std::size_t i = 0; i < trace_.size(); ++i) {
      const int rule = trace_[i].rule;
      const std::uint64_t before = packets_counted(rule);
      if (judge(rules_, views_[i]) != expected_verdict(rule) ||
          packets_counted(rule) != before + 1) {
        return "packet " + std::to_string(i) + " of the trace was not decided by rule " +
               std::to_string(rule);
      }
    }
    return {};
  }

  void run(benchmark::State& state, bool traced) const {
    PacketTrace trace;
    std::size_t next = 0;
    for (auto _ : state) {
      benchmark::DoNotOptimize(judge(rules_, views_[next], traced ? &trace : nullptr));
      next = next + 1 == views_.size() ? 0 : next + 1;
    }
    state.counters["packets/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["rules"] = static_cast<double>(rules());
  }

 private:
  [[nodiscard]] std::size_t input_index() const {
    const std::vector<Chain>& chains = ruleset_->table(TableId::kFilter).chains;
    for (std::size_t c = 0; c < chains.size(); ++c) {
      if (chains[c].name == "INPUT") return c;
    }
    throw std::runtime_error("the ruleset has no INPUT chain");
  }
  [[nodiscard]] const Chain& input() const {
    return ruleset_->table(TableId::kFilter).chains[input_index()];
  }

  // The packet counter of INPUT's rule `rule`, or of its policy.
  [[nodiscard]] std::uint64_t packets_counted(int rule) const {
    const ChainState& chain = state_->chain(TableId::kFilter, input_index());
    const Counters& counters = rule == kNoRule
                                   ? chain.policy(Family::kIPv4)
                                   : chain.rules[static_cast<std::size_t>(rule)]->counters;
    return counters.packets;
  }

  std::shared_ptr<const Ruleset> ruleset_;
  std::unique_ptr<RulesetState> state_;
  PipelineRules rules_;
  std::vector<TracePacket> trace_;  // views_ point into these
  std::vector<PacketView> views_;
};

// One benchmark per ruleset of `directory` ("acl1_1000.json" beside
// "acl1_1000.trace"), in name order.
int register_cases(const std::filesystem::path& directory,
                   std::vector<std::unique_ptr<ClassBenchCase>>& cases) {
  std::vector<std::filesystem::path> rulesets;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().extension() == ".json") rulesets.push_back(entry.path());
  }
  std::sort(rulesets.begin(), rulesets.end());
  for (const auto& ruleset : rulesets) {
    auto trace = ruleset;
    trace.replace_extension(".trace");
    auto& one = cases.emplace_back(std::make_unique<ClassBenchCase>(ruleset, trace));
    if (const std::string error = one->disagreement(); !error.empty()) {
      std::cerr << ruleset.string() << ": " << error << "\n";
      return 1;
    }
    for (const bool traced : {false, true}) {
      benchmark::RegisterBenchmark(
          (ruleset.stem().string() + (traced ? "/traced" : "")).c_str(),
          [&case_ = *one, traced](benchmark::State& state) { case_.run(state, traced); });
    }
  }
  if (rulesets.empty()) {
    std::cerr << directory.string()
              << ": no rulesets; build them with cmake --build build --target classbench\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace verdictd

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::filesystem::path directory = argc > 1 ? argv[1] : VERDICTD_CLASSBENCH_RULESETS;
  std::vector<std::unique_ptr<verdictd::ClassBenchCase>> cases;
  try {
    if (const int status = verdictd::register_cases(directory, cases); status != 0) return status;
  } catch (const std::exception& e) {
    std::cerr << "rule_evaluation: " << e.what() << "\n";
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
