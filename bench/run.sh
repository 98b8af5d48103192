#!/usr/bin/env bash
# Forwarding performance through the namespace lab (client -- router --
# server), in one run: UDP packets per second (64-byte payloads) received at the server
# and TCP Gbit/s (iperf3), for
#   none            no filtering
#   kernel          the kernel's iptables-legacy with bench/rulesets/ten_rules.json
#                   (exported with verdictctl export)
#   minimal-reader  bench/minimal_reader accepting everything from FORWARD's queue
#   verdictd        verdictd enforcing the same ten rules
#   kernel-stateful, verdictd-stateful
#                   the same two with bench/rulesets/stateful.json: connection
#                   tracking, replies accepted as ESTABLISHED, new
#                   connections only to the benchmark's ports
#   kernel-host, verdictd-host
#                   the same two with bench/rulesets/host.json, a host
#                   firewall on the router's own INPUT, the client sending to
#                   the router itself (an iperf3 server there; UDP counted as
#                   the router's UDP stack received it): the router's replies
#                   leave through OUTPUT, which verdictd steers for tracking
#   kernel-nat, verdictd-nat
#                   the same two with bench/rulesets/nat.json: the client sends
#                   to the router, which forwards to the server (DNAT) as
#                   itself (MASQUERADE); each is checked to really translate,
#                   and the run fails if it does not
# with the rate the sender (bench/udp_flood.cpp: Ethernet frames on a packet
# socket past the qdisc, sendmmsg) reached, each configuration that comes
# within 90% of the sender's ceiling ("none") marked sender-bound,
# then verdictd's ratios to kernel and to minimal-reader, stateful to
# stateful, host to host, NAT to NAT and to minimal-reader. Prints figures; it is not a
# test. Builds nothing: give the build directory as $1 or VERDICTD_BUILD_DIR.
# BENCH_SECONDS (default 3) per measurement, BENCH_RUNS (default 3) rounds
# over the ten configurations
# (each figure is the best of its rounds), BENCH_STEERING (legacy or nft,
# default legacy) for every NFQUEUE configuration.
#
# `bench/run.sh BUILD flood` measures instead TCP throughput during spoofed
# floods, kernel against verdictd (bench/flood.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${VERDICTD_BUILD_DIR:-$top/build}}" && pwd)
seconds=${BENCH_SECONDS:-3}
runs=${BENCH_RUNS:-3}
steering=${BENCH_STEERING:-legacy}
mode=${2:-all}
case $mode in
  all | flood) ;;
  *) echo "usage: $0 [BUILD_DIR [all|flood]]" >&2; exit 2 ;;
esac
# The senders on one core, the packet filter (reader or verdictd) and the
# receiving iperf3 on the other, the same for every configuration: the
# scheduler's placement otherwise varies the figures more than they differ.
sender_cpu=0
filter_cpu=$(($(nproc) > 1 ? 1 : 0))
verdictd=$build/daemon/service/verdictd
verdictctl=$build/daemon/ctl/verdictctl
reader=$build/bench/minimal_reader
flood=$build/bench/udp_flood
ruleset=$top/bench/rulesets/ten_rules.json
stateful=$top/bench/rulesets/stateful.json
nat=$top/bench/rulesets/nat.json
host=$top/bench/rulesets/host.json
# Where the client sends: the server itself, or in the NAT configurations the
# router's client-side address, which nat.json forwards to the server; the
# server then sees the router's server-side address.
server_address=10.2.0.2
router_address=10.1.0.1
forwarded_address=10.1.0.1
masquerade_address=10.2.0.1
for bin in "$verdictd" "$verdictctl" "$reader" "$flood"; do
  [ -x "$bin" ] || { echo "bench: $bin is missing; build first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }

id="vd-bench-$$"
sock="/tmp/$id.sock"
log="/tmp/$id-verdictd.log"
pids=()
LAB_ID=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -z "$LAB_ID" ] || /usr/bin/python3 "$top/tests/integration/lab.py" down "$LAB_ID"
  rm -f "$sock" "$log"
  rm -rf "/tmp/$id.run" "/tmp/$id.last-good.json"
}
trap cleanup EXIT

# The lab of the integration tests (tests/integration/lab.py): client --
# router -- server, the namespaces in LAB_CLIENT, LAB_ROUTER, LAB_SERVER.
lab=$(/usr/bin/python3 "$top/tests/integration/lab.py" up)
eval "$lab"
client=$LAB_CLIENT router=$LAB_ROUTER server=$LAB_SERVER
netns() { ip netns exec "$@"; }

for ns in "$server" "$router"; do
  ip netns exec "$ns" taskset -c "$filter_cpu" iperf3 -s >/dev/null 2>&1 &  # $! must be iperf3
  pids+=($!)
done
sleep 0.3

# The flood's packets that arrived at their end, $1: the server's interface,
# or the router's own UDP (InDatagrams plus NoPorts: no socket listens on
# port 9).
arrived() {
  if [ "$1" = router ]; then
    netns "$router" awk '/^Udp: [0-9]/ {print $2 + $3}' /proc/net/snmp
  else
    netns "$server" cat /sys/class/net/eth0/statistics/rx_packets
  fi
}

# Thousands of packets per second that arrived at $2 (server or router)
# while the client flooded $1, and that the client sent: "ARRIVED SENT".
udp_kpps() {
  local before after sent
  before=$(arrived "$2")
  sent=$(netns "$client" taskset -c "$sender_cpu" "$flood" "$1" 9 "$seconds")
  sleep 0.5  # let queued packets drain
  after=$(arrived "$2")
  echo "$(((after - before) / seconds / 1000)) $((sent / seconds / 1000))"
}

# iperf3 from the client to $1.
tcp_gbps() {
  netns "$client" taskset -c "$sender_cpu" iperf3 -c "$1" -t "$seconds" -J |
    /usr/bin/python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

declare -A udp tcp sent
# Keeps the best figure of each configuration over the rounds: $1 the
# configuration's name, $2 where the client sends (default the server), $3
# where its packets end (server, the default, or router).
record() {
  local to=${2:-$server_address} end=${3:-server} arrived_sent
  read -ra arrived_sent <<<"$(udp_kpps "$to" "$end")"
  if ((arrived_sent[0] >= ${udp[$1]:-0})); then
    udp[$1]=${arrived_sent[0]} sent[$1]=${arrived_sent[1]}
  fi
  tcp[$1]=$(/usr/bin/python3 -c "print(max(${tcp[$1]:-0}, $(tcp_gbps "$to")))")
}

# The measurement of a configuration: $1 its name, $2 its ruleset, the rest
# the router's command listing the connections of whichever translates. A NAT
# configuration is measured through the port forward and then checked.
measure() {
  local name=$1 ruleset=$2
  shift 2
  if [ "$ruleset" = "$nat" ]; then
    record "$name" "$forwarded_address"
    nat_check "$name" "$@"
  elif [ "$ruleset" = "$host" ]; then
    record "$name" "$router_address" router
  else
    record "$name"
  fi
}

# The NAT is really applied, by whichever should apply it: a datagram the
# client sends to the forwarded address reaches the server from the masquerade
# address, and the connection listing (the rest of the arguments, run in the
# router) has the reply tuple to that address. Fails the run otherwise; $1
# the configuration's name.
declare -A nat_seen nat_reply
nat_check() {
  local name=$1 seen_file="/tmp/$id-seen" listener
  shift
  netns "$server" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9))
s.settimeout(5)
print(s.recvfrom(64)[1][0])' >"$seen_file" 2>/dev/null &  # $! must be the listener
  listener=$!
  pids+=("$listener")
  # Until the listener has one: the first datagrams may come before its bind.
  for _ in $(seq 50); do
    kill -0 "$listener" 2>/dev/null || break
    netns "$client" bash -c "printf nat-check >/dev/udp/$forwarded_address/9" || true
    sleep 0.1
  done
  wait "$listener" || true
  nat_seen[$name]=$(cat "$seen_file")
  rm -f "$seen_file"
  if [ "${nat_seen[$name]}" != "$masquerade_address" ]; then
    echo "bench: $name does not NAT: sent to $forwarded_address:9, the server saw" \
      "${nat_seen[$name]:-nothing} (not $masquerade_address)" >&2
    exit 1
  fi
  # The reply tuple: from the server's port 9 to the masquerade address.
  local listing reply
  listing=$(netns "$router" "$@" -p udp --dport 9 2>&1) || true
  reply=$(grep -m 1 -o "src=[^ ]* dst=$masquerade_address sport=9 dport=[0-9]*" <<<"$listing") ||
    { echo "bench: $name: '$*' lists no reply to $masquerade_address:" >&2
      echo "$listing" >&2
      exit 1; }
  # "conntrack -L" or "verdictctl conntrack": the command's name and its last word.
  nat_reply[$name]="${1##*/} ${*: -1} reply $reply"
}

# Each table the ruleset $1 fills, emptied: its built-in chains without rules,
# their policies ACCEPT, its user chains gone.
empty_tables() {
  "$verdictctl" export -4 "$1" | empty_text | netns "$router" iptables-legacy-restore
  "$verdictctl" export -6 "$1" | empty_text | netns "$router" ip6tables-legacy-restore
}
empty_text() {
  sed -e '/^[*:]/!{/^COMMIT$/!d}' -e '/^:[^ ]* - /d' -e 's/^\(:[^ ]*\) [A-Z]*/\1 ACCEPT/'
}

# Before and after each configuration: a connection left in the kernel's
# table would keep its NAT binding (the kernel would translate it) or its
# state into the next configuration.
flush_conntrack() {
  netns "$router" conntrack -F >/dev/null 2>&1 || true
}

# The kernel with a ruleset: $1 the configuration's name, $2 the ruleset.
kernel_rules() {
  flush_conntrack
  "$verdictctl" export -4 "$2" | netns "$router" iptables-legacy-restore
  "$verdictctl" export -6 "$2" | netns "$router" ip6tables-legacy-restore
  "$measurement" "$1" "$2" conntrack -L
  empty_tables "$2"
  flush_conntrack
}

minimal_reader() {
  # The reader sits where verdictd steers FORWARD: queue 2, in mangle FORWARD.
  ip netns exec "$router" taskset -c "$filter_cpu" "$reader" 2 >/dev/null &  # $! must be the reader
  local pid=$!
  pids+=("$pid")
  sleep 0.3
  netns "$router" "iptables-$steering" -t mangle -A FORWARD -j NFQUEUE --queue-num 2
  record minimal-reader
  netns "$router" "iptables-$steering" -t mangle -D FORWARD -j NFQUEUE --queue-num 2
  kill "$pid"
  wait "$pid" || true
}

# verdictd with a ruleset: $1 the configuration's name, $2 the ruleset, $3
# the verdictd to run (default the build's).
verdictd_rules() {
  flush_conntrack
  # A baseline binary ($3, older than the NAT store and the last-good copy)
  # keeps its defaults.
  local runtime=(--runtime-directory "/tmp/$id.run" --last-good "/tmp/$id.last-good.json")
  [[ -n ${3:-} ]] && runtime=()
  ip netns exec "$router" taskset -c "$filter_cpu" "${3:-$verdictd}" --ruleset "$2" \
    --control-socket "$sock" "${runtime[@]}" --steering "$steering" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  daemon_pid=$pid  # for the measurement
  for _ in $(seq 100); do
    netns "$router" "$verdictctl" --socket "$sock" status >/dev/null 2>&1 && break
    sleep 0.1
  done
  netns "$router" "$verdictctl" --socket "$sock" status >/dev/null ||
    { echo "bench: verdictd did not start:" >&2; cat "$log" >&2; exit 1; }
  "$measurement" "$1" "$2" "$verdictctl" --socket "$sock" conntrack
  kill "$pid"
  wait "$pid" || true
  netns "$router" "$verdictd" --remove-steering --steering "$steering"
  flush_conntrack
}

# How kernel_rules and verdictd_rules measure a configuration.
measurement=measure
if [ "$mode" = flood ]; then
  source "$top/bench/flood.sh"
  exit 0
fi

# Rounds over all configurations, so that whatever else the machine does
# weighs on each of them alike; the best figure of each is kept. The NAT
# configurations come last: legacy iptables keeps a table it has once
# registered in the namespace, so from the second round on every
# configuration passes the (empty) nat table's hooks too.
for _ in $(seq "$runs"); do
  record none
  kernel_rules kernel "$ruleset"
  minimal_reader
  verdictd_rules verdictd "$ruleset"
  kernel_rules kernel-stateful "$stateful"
  verdictd_rules verdictd-stateful "$stateful"
  kernel_rules kernel-host "$host"
  verdictd_rules verdictd-host "$host"
  kernel_rules kernel-nat "$nat"
  verdictd_rules verdictd-nat "$nat"
done
# The sender's ceiling is what arrives with no filtering at all ("none"):
# a configuration within 90% of it may be held back by the sender, not by
# its filter, and its UDP ratios then say little.
for name in none kernel minimal-reader verdictd kernel-stateful verdictd-stateful kernel-host \
  verdictd-host kernel-nat verdictd-nat; do
  bound=""
  if [ "$name" != none ] && ((udp[$name] * 10 >= udp[none] * 9)); then
    bound=" (sender-bound: >= 90% of the sender's ceiling)"
  fi
  echo "$name udp64_kpps=${udp[$name]} tcp_gbps=${tcp[$name]} sent_kpps=${sent[$name]}$bound"
done
echo "sender ceiling: udp64_kpps=${udp[none]} (none: no filtering; udp_flood sent ${sent[none]}k/s)"
for name in kernel-nat verdictd-nat; do
  echo "nat check: $name: server saw ${nat_seen[$name]} (sent to $forwarded_address:9);" \
    "${nat_reply[$name]}"
done

ratio() { /usr/bin/python3 -c "print('%.2f' % ($1 / $2 if $2 else 0))"; }
echo "verdictd/kernel udp64=$(ratio "${udp[verdictd]}" "${udp[kernel]}") tcp=$(ratio "${tcp[verdictd]}" "${tcp[kernel]}")"
echo "verdictd/minimal-reader udp64=$(ratio "${udp[verdictd]}" "${udp[minimal-reader]}") tcp=$(ratio "${tcp[verdictd]}" "${tcp[minimal-reader]}")"
echo "verdictd-stateful/kernel-stateful udp64=$(ratio "${udp[verdictd-stateful]}" "${udp[kernel-stateful]}") tcp=$(ratio "${tcp[verdictd-stateful]}" "${tcp[kernel-stateful]}")"
echo "verdictd-host/kernel-host udp64=$(ratio "${udp[verdictd-host]}" "${udp[kernel-host]}") tcp=$(ratio "${tcp[verdictd-host]}" "${tcp[kernel-host]}")"
echo "verdictd-nat/kernel-nat udp64=$(ratio "${udp[verdictd-nat]}" "${udp[kernel-nat]}") tcp=$(ratio "${tcp[verdictd-nat]}" "${tcp[kernel-nat]}")"
echo "verdictd-nat/minimal-reader udp64=$(ratio "${udp[verdictd-nat]}" "${udp[minimal-reader]}") tcp=$(ratio "${tcp[verdictd-nat]}" "${tcp[minimal-reader]}")"
