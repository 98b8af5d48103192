#!/usr/bin/env bash
# Forwarding performance through the namespace lab (client -- router --
# server), in one run: UDP 64-byte packets per second received at the server
# and TCP Gbit/s (iperf3), for
#   none            no filtering
#   kernel          the kernel's iptables-legacy with bench/rulesets/ten_rules.json
#                   (exported with verdictctl export)
#   minimal-reader  bench/minimal_reader accepting everything from FORWARD's queue
#   verdictd        verdictd enforcing the same ten rules
# then verdictd's ratios to kernel and to minimal-reader. Prints figures; it is
# not a test. Builds nothing: give the build directory as $1 or
# VERDICTD_BUILD_DIR. BENCH_SECONDS (default 3) per measurement, BENCH_RUNS
# (default 2) measurements per figure (the best is kept), BENCH_STEERING
# (legacy or nft, default legacy) for both NFQUEUE configurations.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${VERDICTD_BUILD_DIR:-$top/build}}" && pwd)
seconds=${BENCH_SECONDS:-3}
runs=${BENCH_RUNS:-2}
steering=${BENCH_STEERING:-legacy}
verdictd=$build/daemon/service/verdictd
verdictctl=$build/daemon/ctl/verdictctl
reader=$build/bench/minimal_reader
flood=$build/bench/udp_flood
ruleset=$top/bench/rulesets/ten_rules.json
for bin in "$verdictd" "$verdictctl" "$reader" "$flood"; do
  [ -x "$bin" ] || { echo "bench: $bin is missing; build first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }

id="vd-bench-$$"
client="$id-c" router="$id-r" server="$id-s"
sock="/tmp/$id.sock"
log="/tmp/$id-verdictd.log"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "$client" "$router" "$server"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -f "$sock" "$log"
}
trap cleanup EXIT

netns() { ip netns exec "$@"; }
for ns in "$client" "$router" "$server"; do ip netns add "$ns"; done
ip link add eth0 netns "$client" address 02:76:64:01:00:02 type veth \
  peer name lan0 netns "$router" address 02:76:64:01:00:01
ip link add eth0 netns "$server" address 02:76:64:02:00:02 type veth \
  peer name wan0 netns "$router" address 02:76:64:02:00:01
ip -n "$client" -batch - <<CMDS
link set lo up
link set eth0 up
addr add 10.1.0.2/24 dev eth0
route add default via 10.1.0.1
neigh replace 10.1.0.1 lladdr 02:76:64:01:00:01 dev eth0 nud permanent
CMDS
ip -n "$server" -batch - <<CMDS
link set lo up
link set eth0 up
addr add 10.2.0.2/24 dev eth0
route add default via 10.2.0.1
neigh replace 10.2.0.1 lladdr 02:76:64:02:00:01 dev eth0 nud permanent
CMDS
ip -n "$router" -batch - <<CMDS
link set lo up
link set lan0 up
link set wan0 up
addr add 10.1.0.1/24 dev lan0
addr add 10.2.0.1/24 dev wan0
neigh replace 10.1.0.2 lladdr 02:76:64:01:00:02 dev lan0 nud permanent
neigh replace 10.2.0.2 lladdr 02:76:64:02:00:02 dev wan0 nud permanent
CMDS
netns "$router" sysctl -qw net.ipv4.ip_forward=1

ip netns exec "$server" iperf3 -s >/dev/null 2>&1 &  # not via netns(): $! must be iperf3
pids+=($!)
sleep 0.3

# Packets per second that reached the server's interface while the client flooded.
udp_kpps() {
  local rx=/sys/class/net/eth0/statistics/rx_packets before after
  before=$(netns "$server" cat $rx)
  netns "$client" "$flood" 10.2.0.2 9 "$seconds" >/dev/null
  sleep 0.5  # let queued packets drain
  after=$(netns "$server" cat $rx)
  echo $(((after - before) / seconds / 1000))
}

tcp_gbps() {
  netns "$client" iperf3 -c 10.2.0.2 -t "$seconds" -J |
    /usr/bin/python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

best() {  # best of $runs runs of "$@"
  local value top=0
  for _ in $(seq "$runs"); do
    value=$("$@")
    top=$(/usr/bin/python3 -c "print(max($top, $value))")
  done
  echo "$top"
}

declare -A udp tcp
measure() {
  udp[$1]=$(best udp_kpps)
  tcp[$1]=$(best tcp_gbps)
  echo "$1 udp64_kpps=${udp[$1]} tcp_gbps=${tcp[$1]}"
}

empty_tables() {
  local restore
  for restore in iptables-legacy-restore ip6tables-legacy-restore; do
    netns "$router" "$restore" <<TABLES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
TABLES
  done
}

measure none

"$verdictctl" export -4 "$ruleset" | netns "$router" iptables-legacy-restore
"$verdictctl" export -6 "$ruleset" | netns "$router" ip6tables-legacy-restore
measure kernel
empty_tables

# The reader sits where verdictd steers FORWARD: queue 2, in mangle FORWARD.
ip netns exec "$router" "$reader" 2 >/dev/null &
reader_pid=$!
pids+=($reader_pid)
sleep 0.3
netns "$router" "iptables-$steering" -t mangle -A FORWARD -j NFQUEUE --queue-num 2
measure minimal-reader
netns "$router" "iptables-$steering" -t mangle -D FORWARD -j NFQUEUE --queue-num 2
kill "$reader_pid"
wait "$reader_pid" || true

ip netns exec "$router" "$verdictd" --ruleset "$ruleset" --control-socket "$sock" --steering "$steering" \
  >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  netns "$router" "$verdictctl" --socket "$sock" status >/dev/null 2>&1 && break
  sleep 0.1
done
netns "$router" "$verdictctl" --socket "$sock" status >/dev/null ||
  { echo "bench: verdictd did not start:" >&2; cat "$log" >&2; exit 1; }
measure verdictd

ratio() { /usr/bin/python3 -c "print('%.2f' % ($1 / $2 if $2 else 0))"; }
echo "verdictd/kernel udp64=$(ratio "${udp[verdictd]}" "${udp[kernel]}") tcp=$(ratio "${tcp[verdictd]}" "${tcp[kernel]}")"
echo "verdictd/minimal-reader udp64=$(ratio "${udp[verdictd]}" "${udp[minimal-reader]}") tcp=$(ratio "${tcp[verdictd]}" "${tcp[minimal-reader]}")"
