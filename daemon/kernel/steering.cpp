#include "kernel/steering.hpp"

#include <fcntl.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <future>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "text/hex.hpp"

extern char** environ;  // POSIX defines it but no header has to declare it

namespace verdictd {

namespace {

enum class ChainContent : std::uint8_t { kEmpty, kQueue, kDrop };

// Stands in for an RCU grace period where membarrier cannot wait for one.
constexpr auto kGracePause = std::chrono::milliseconds(20);

struct Tools {
  const char* restore;
  const char* save;
};

Tools tools(SteeringBackend backend, Family family) {
  const bool ipv6 = family == Family::kIPv6;
  if (backend == SteeringBackend::kNft) {
    return ipv6 ? Tools{"ip6tables-nft-restore", "ip6tables-nft-save"}
                : Tools{"iptables-nft-restore", "iptables-nft-save"};
  }
  return ipv6 ? Tools{"ip6tables-legacy-restore", "ip6tables-legacy-save"}
              : Tools{"iptables-legacy-restore", "iptables-legacy-save"};
}

// The kernel may be built or booted without IPv6; ip6tables then cannot work.
bool ipv6_available() { return access("/proc/sys/net/ipv6", F_OK) == 0; }

// The tools live in sbin, which a caller's PATH may lack.
std::string find_tool(const std::string& name) {
  std::string directories = "/usr/sbin:/sbin:/usr/bin:/bin";
  if (const char* path = std::getenv("PATH")) directories = std::string(path) + ":" + directories;
  std::istringstream list(directories);
  std::string directory;
  while (std::getline(list, directory, ':')) {
    if (directory.empty()) continue;
    std::string candidate = directory;
    candidate += '/';
    candidate += name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("steering needs " + name +
                           " (package iptables), which is not installed");
}

class Descriptor {
 public:
  explicit Descriptor(int fd = -1) : fd_(fd) {}
  ~Descriptor() { reset(); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&&) = delete;
  Descriptor& operator=(Descriptor&&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct ToolRun {
  int status = -1;  // exit status, or -1 when the tool did not exit normally
  std::string output;
  std::string errors;
};

// Runs a tool with `input` on its stdin, collecting stdout and stderr. The
// stdin end is a socket so that a tool exiting early cannot raise SIGPIPE here.
ToolRun run_tool(const std::string& name, const std::vector<std::string>& arguments,
                 std::string_view input) {
  const std::string path = find_tool(name);
  std::array<int, 2> in{};
  std::array<int, 2> out{};
  std::array<int, 2> err{};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in.data()) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  Descriptor in_child(in[0]);
  Descriptor in_parent(in[1]);
  if (pipe2(out.data(), O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  Descriptor out_parent(out[0]);
  Descriptor out_child(out[1]);
  if (pipe2(err.data(), O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  Descriptor err_parent(err[0]);
  Descriptor err_child(err[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_child.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_child.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_child.get(), STDERR_FILENO);
  std::vector<std::string> words{path};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  // The daemon blocks the signals it reads with signalfd; the tool gets them
  // unblocked and at their defaults.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attributes, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attributes, &signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t child = 0;
  const int spawned =
      posix_spawn(&child, path.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::system_error(spawned, std::generic_category(), "running " + path);
  in_child.reset();
  out_child.reset();
  err_child.reset();

  ToolRun result;
  fcntl(in_parent.get(), F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (input.empty()) in_parent.reset();
  std::array<char, 4096> chunk{};
  while (out_parent.get() >= 0 || err_parent.get() >= 0) {
    std::array<pollfd, 3> watched{{{in_parent.get(), POLLOUT, 0},
                                   {out_parent.get(), POLLIN, 0},
                                   {err_parent.get(), POLLIN, 0}}};
    if (poll(watched.data(), watched.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (watched[0].revents != 0) {
      const ssize_t n = send(in_parent.get(), input.data() + written, input.size() - written,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) written += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        in_parent.reset();  // end of input (or the tool stopped reading)
      }
    }
    for (std::size_t i = 1; i < watched.size(); ++i) {
      if (watched[i].revents == 0) continue;
      Descriptor& source = i == 1 ? out_parent : err_parent;
      const ssize_t n = read(source.get(), chunk.data(), chunk.size());
      if (n > 0) {
        (i == 1 ? result.output : result.errors).append(chunk.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        source.reset();
      }
    }
  }
  in_parent.reset();
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The input line an iptables message names ("line 12 failed", "line 12: ...",
// "Error occurred at line: 12"); 0 if none.
std::size_t named_line(std::string_view message) {
  for (std::size_t at = message.find("line"); at != std::string_view::npos;
       at = message.find("line", at + 1)) {
    std::size_t digits = at + 4;
    while (digits < message.size() && (message[digits] == ' ' || message[digits] == ':')) ++digits;
    if (digits < message.size() && message[digits] >= '1' && message[digits] <= '9') {
      return std::strtoul(message.data() + digits, nullptr, 10);
    }
  }
  return 0;
}

// iptables' complaint as one line, quoting the input line it names, since
// legacy restore says no more than "line 12 failed".
std::string one_line_error(const std::string& tool, const ToolRun& run, const std::string& input) {
  std::string message;
  std::istringstream lines(run.errors);
  std::string line;
  while (std::getline(lines, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())) != 0) {
      line.pop_back();
    }
    if (line.empty() || line.starts_with("Try `")) continue;
    if (!message.empty()) message += message.ends_with(':') ? " " : "; ";
    message += line;
  }
  if (const std::size_t failed = named_line(message); failed > 0) {
    std::istringstream text(input);
    for (std::size_t i = 1; std::getline(text, line); ++i) {
      if (i == failed) {
        message += " (\"" + line + "\")";
        break;
      }
    }
  }
  if (message.empty()) message = "exit status " + std::to_string(run.status);
  return tool + " failed: " + message;
}

// What one family's tables hold of ours now.
struct OwnedState {
  std::array<int, kHookCount> jumps{};        // jump rules into VERDICTD-<HOOK>
  std::array<bool, kHookCount> jump_first{};  // one of them is rule 1 of the built-in chain
  std::array<bool, kHookCount> chain_exists{};
};

std::string jump_rule(Hook h) {
  return "-A " + std::string(hook_name(h)) + " -j " + steering_chain(h);
}

// What a successful install_text transaction leaves: every owned chain, each
// reached by one jump, the first rule of its built-in chain.
OwnedState written_state() {
  OwnedState state;
  state.jumps.fill(1);
  state.jump_first.fill(true);
  state.chain_exists.fill(true);
  return state;
}

// The iptables-save text of the tables the steering uses, among the others:
// one run of the tool rather than one per table.
std::string saved_tables(const Tools& family_tools) {
  const ToolRun run = run_tool(family_tools.save, {}, {});
  if (run.status != 0) throw std::runtime_error(one_line_error(family_tools.save, run, {}));
  return run.output;
}

// Calls each(table, line) for every line of saved tables, `table` being the
// name of the table the line belongs to.
template <typename Each>
void each_saved_line(const std::string& saved, const Each& each) {
  std::istringstream lines(saved);
  std::string line;
  std::string table;
  while (std::getline(lines, line)) {
    if (line.starts_with("*")) {
      table = line.substr(1);
    } else {
      each(std::string_view(table), line);
    }
  }
}

OwnedState read_state(const std::string& saved) {
  OwnedState state;
  std::array<bool, kHookCount> seen_rule{};
  each_saved_line(saved, [&](std::string_view table, const std::string& line) {
    for (Hook h : kAllHooks) {
      if (table_name(steering_table(h)) != table) continue;
      const auto i = static_cast<std::size_t>(h);
      if (line.starts_with(":" + steering_chain(h) + " ")) state.chain_exists[i] = true;
      if (!line.starts_with("-A " + std::string(hook_name(h)) + " ")) continue;
      if (line == jump_rule(h)) {
        ++state.jumps[i];
        if (!seen_rule[i]) state.jump_first[i] = true;
      }
      seen_rule[i] = true;
    }
  });
  return state;
}

// Our part of saved tables, in a form to compare: the owned chains, their
// rules as iptables-save prints them, and the jumps. Not where a jump sits
// among other rules of its built-in chain: a rule someone inserts above it
// (a conntrack helper assigned in raw) is theirs, and stays where they put it.
std::string owned_lines(const std::string& saved) {
  std::string owned;
  each_saved_line(saved, [&](std::string_view table, const std::string& line) {
    for (Hook h : kAllHooks) {
      if (table_name(steering_table(h)) != table) continue;
      const std::string prefix = std::string(table) + " ";
      if (line.starts_with(":" + steering_chain(h) + " ")) {
        owned += prefix + ":" + steering_chain(h) + "\n";
      } else if (line.starts_with("-A " + steering_chain(h) + " ") || line == jump_rule(h)) {
        owned += prefix + line + "\n";
      }
    }
  });
  return owned;
}

// How many of the `expected` lines `now` lacks.
std::string difference(const std::string& expected, const std::string& now) {
  std::size_t total = 0;
  std::size_t missing = 0;
  std::istringstream lines(expected);
  std::string line;
  while (std::getline(lines, line)) {
    ++total;
    if (now.find(line + "\n") == std::string::npos) ++missing;
  }
  if (missing == 0) return "steering lines added";
  return std::to_string(missing) + " of " + std::to_string(total) +
         " steering lines missing or changed";
}

std::string chain_rules(Hook h, ChainContent content, const SteeringPlan& plan, Family family) {
  const std::string append = "-A " + steering_chain(h) + " ";
  switch (content) {
    case ChainContent::kEmpty:
      return {};
    case ChainContent::kDrop:
      return append + "-j DROP\n";
    case ChainContent::kQueue: {
      const HookQueues& queues = plan.queues[static_cast<std::size_t>(h)];
      std::string rule;
      // Raw runs before the kernel's conntrack: a packet verdictd untracked
      // comes back (NF_REPEAT) with the mark bit and leaves untracked. A
      // loopback packet untracked on its way out still carries the bit when
      // it comes back in; it is queued like any other, for the raw rules.
      if (steering_table(h) == TableId::kRaw && plan.untracked_mark != 0) {
        const std::string marked = append + (h == Hook::kPrerouting ? "! -i lo " : "") +
                                   "-m mark --mark " + hex(plan.untracked_mark) + "/" +
                                   hex(plan.untracked_mark);
        rule += marked + " -j CT --notrack\n" + marked + " -j ACCEPT\n";
      }
      // A conntrack match makes the kernel track in this namespace; without a
      // target the rule only counts (packets it had not tracked yet in raw).
      if ((plan.kernel_tracking & family_bit(family)) != 0) {
        rule += append + "-m conntrack --ctstate INVALID\n";
      }
      rule += append + "-j NFQUEUE ";
      if (queues.count > 1) {
        rule += "--queue-balance " + std::to_string(queues.first) + ":" +
                std::to_string(queues.first + queues.count - 1);
      } else {
        rule += "--queue-num " + std::to_string(queues.first);
      }
      if (plan.fail_open) rule += " --queue-bypass";
      return rule + "\n";
    }
  }
  return {};
}

// Declares (and so empties) the owned chains, fills them, and leaves exactly
// one jump to each at the top of its built-in chain.
using ChainContents = std::array<ChainContent, kHookCount>;

std::string install_text(const OwnedState& state, const ChainContents& contents,
                         const SteeringPlan& plan, Family family) {
  std::string text;
  for (const TableId table : {TableId::kRaw, TableId::kMangle}) {
    text += "*" + std::string(table_name(table)) + "\n";
    for (Hook h : kAllHooks) {
      if (steering_table(h) == table) text += ":" + steering_chain(h) + " - [0:0]\n";
    }
    for (Hook h : kAllHooks) {
      if (steering_table(h) != table) continue;
      const auto i = static_cast<std::size_t>(h);
      text += chain_rules(h, contents[i], plan, family);
      if (state.jumps[i] == 1 && state.jump_first[i]) continue;
      const std::string target = " -j " + steering_chain(h) + "\n";
      for (int n = 0; n < state.jumps[i]; ++n) text += "-D " + std::string(hook_name(h)) + target;
      text += "-I " + std::string(hook_name(h)) + " 1" + target;
    }
    text += "COMMIT\n";
  }
  return text;
}

std::string remove_text(const OwnedState& state) {
  std::string text;
  for (const TableId table : {TableId::kRaw, TableId::kMangle}) {
    std::string commands;
    for (Hook h : kAllHooks) {
      if (steering_table(h) != table) continue;
      const auto i = static_cast<std::size_t>(h);
      for (int n = 0; n < state.jumps[i]; ++n) {
        commands += "-D " + std::string(hook_name(h)) + " -j " + steering_chain(h) + "\n";
      }
      if (state.chain_exists[i]) {
        commands += "-F " + steering_chain(h) + "\n-X " + steering_chain(h) + "\n";
      }
    }
    if (!commands.empty()) {
      text += "*" + std::string(table_name(table)) + "\n" + commands + "COMMIT\n";
    }
  }
  return text;
}

void restore(const Tools& family_tools, const std::string& text) {
  if (text.empty()) return;
  // -w: legacy tables are shared with other iptables users through the xtables lock.
  const ToolRun run = run_tool(family_tools.restore, {"-w", "--noflush"}, text);
  if (run.status != 0) throw std::runtime_error(one_line_error(family_tools.restore, run, text));
}

// Runs change(family) for IPv4 and, on a second thread, for IPv6 where the
// kernel has it. Both run to their end; then the first failure (IPv4's when
// both fail) is rethrown.
template <typename Change>
void each_family(const Change& change) {
  std::future<void> ipv6;
  if (ipv6_available()) ipv6 = std::async(std::launch::async, [&change] { change(Family::kIPv6); });
  std::exception_ptr failure;
  try {
    change(Family::kIPv4);
  } catch (...) {
    failure = std::current_exception();
  }
  if (ipv6.valid()) {
    try {
      ipv6.get();
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// nf_hook() holds the RCU read lock while a packet runs the tables and, when
// a rule queues it, while nf_queue hands it to the queue's socket; replacing a
// table (xt_replace_table, nf_tables_commit) waits at most for the first part.
// After an RCU grace period every packet the old rules queued is in its
// socket. membarrier(MEMBARRIER_CMD_GLOBAL) waits for one (synchronize_rcu)
// when more than one CPU is online; with one it returns at once, which is
// enough unless RCU readers can be preempted (CONFIG_PREEMPT_RCU). Where the
// kernel refuses it (nohz_full), a pause stands in.
void wait_for_queued_packets() {
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0) {
    std::this_thread::sleep_for(kGracePause);
  }
}

}  // namespace

std::string steering_chain(Hook h) { return "VERDICTD-" + std::string(hook_name(h)); }

TableId steering_table(Hook h) {
  return h == Hook::kPrerouting || h == Hook::kOutput ? TableId::kRaw : TableId::kMangle;
}

Steering::Steering(SteeringBackend backend) : backend_(backend) {}

// `plan.drop` or not fills the owned chains of each family's steered hooks;
// the others stay empty.
void Steering::install(Family family, const SteeringPlan& plan, Reading reading, bool remember,
                       const std::string* saved) {
  ChainContents contents{};
  for (Hook h : kAllHooks) {
    if ((plan.hooks[family] & hook_bit(h)) != 0) {
      contents[static_cast<std::size_t>(h)] =
          plan.drop ? ChainContent::kDrop : ChainContent::kQueue;
    }
  }
  const Tools family_tools = tools(backend_, family);
  bool& known = written_[family_index(family)];
  std::string& expected = expected_[family_index(family)];
  const OwnedState state = known && reading == Reading::kUnlessWritten ? written_state()
                           : saved != nullptr                          ? read_state(*saved)
                                              : read_state(saved_tables(family_tools));
  known = false;  // a failed transaction may have changed the tables
  expected.clear();
  restore(family_tools, install_text(state, contents, plan, family));
  known = true;
  if (remember) expected = owned_lines(saved_tables(family_tools));
}

void Steering::apply(const SteeringPlan& plan) {
  applied_.reset();
  each_family([&](Family family) { install(family, plan, Reading::kAlways, true); });
  applied_ = plan;
}

void Steering::close(const FamilyHooks& hooks) {
  applied_.reset();
  SteeringPlan closing;
  closing.hooks = hooks;
  closing.drop = true;
  each_family([&](Family family) { install(family, closing, Reading::kUnlessWritten, false); });
  wait_for_queued_packets();
}

std::string Steering::repair(FamilyMask families) {
  if (!applied_) return {};
  std::array<std::string, kFamilyCount> wrong{};
  each_family([&](Family family) {
    if ((families & family_bit(family)) == 0) return;
    const std::size_t i = family_index(family);
    const std::string saved = saved_tables(tools(backend_, family));
    const std::string now = owned_lines(saved);
    if (now == expected_[i]) return;
    wrong[i] = std::string(family_name(family)) + ": " + difference(expected_[i], now);
    install(family, *applied_, Reading::kAlways, true, &saved);
  });
  if (wrong[0].empty() || wrong[1].empty()) return wrong[0] + wrong[1];
  return wrong[0] + "; " + wrong[1];
}

void Steering::remove() {
  applied_.reset();
  each_family([this](Family family) {
    const Tools family_tools = tools(backend_, family);
    bool& known = written_[family_index(family)];
    if (known) {
      known = false;
      try {
        restore(family_tools, remove_text(written_state()));
        return;
      } catch (const std::runtime_error&) {
        // Someone else removed a jump or chain of ours meanwhile: read what is left.
      }
    }
    restore(family_tools, remove_text(read_state(saved_tables(family_tools))));
  });
  wait_for_queued_packets();
}

}  // namespace verdictd
