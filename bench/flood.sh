# bench/run.sh's flood mode (sourced by it, on its lab): the client's TCP
# throughput to the server through the router (iperf3) while the client also
# sends BENCH_FLOOD_PPS (default 100000) spoofed packets a second from random
# sources and ports to random closed ports of the server (bench/spoof_flood):
#   none  no flood
#   ack   TCP ACKs, which conntrack may take for a connection picked up
#         mid-stream, so a tracker looks them up before calling them NEW
#   udp   UDP datagrams
# for the kernel's iptables-legacy and verdictd with bench/rulesets/stateful.json
# (the flood is NEW there and dropped), and with BENCH_BASELINE_VERDICTD set
# for that verdictd binary as well (an older build, to compare). Prints each
# figure (best of BENCH_RUNS rounds), the flood rate reached, verdictd's
# kernel lookups (status: fetches, fetches_skipped, fetches_limited) and its
# CPU time per flood packet it looked up, and the ratios verdictd/kernel and
# flood/none.
spoof=$build/bench/spoof_flood
[ -x "$spoof" ] || { echo "bench: $spoof is missing; build first" >&2; exit 1; }
flood_pps=${BENCH_FLOOD_PPS:-100000}
floods=(none ack udp)
# Spoofed sources have no route back from the router; it forwards them anyway.
netns "$router" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.lan0.rp_filter=0

declare -A flood_tcp flood_kpps flood_lookups flood_cpu

# CPU time (clock ticks) the verdictd verdictd_rules started has used.
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$daemon_pid/stat"
}

# The status counter $1 of the verdictd on $sock (0 when it has none).
lookup_count() {
  netns "$router" "$verdictctl" --socket "$sock" status |
    grep -o " $1=[0-9]*" | cut -d= -f2 | grep . || echo 0
}
lookup_counts() {
  echo "$(lookup_count fetches) $(lookup_count fetches_skipped) $(lookup_count fetches_limited)"
}
# Misses looked up (asked, skipped or limited) in one lookup_counts.
misses() {
  local fetches skipped limited
  read -r fetches skipped limited <<<"$1"
  echo $((fetches + skipped + limited))
}
# "fetches=A skipped=B limited=C" between two lookup_counts.
lookup_delta() {
  local f0 s0 l0 f1 s1 l1
  read -r f0 s0 l0 <<<"$1"
  read -r f1 s1 l1 <<<"$2"
  echo "fetches=$((f1 - f0)) skipped=$((s1 - s0)) limited=$((l1 - l0))"
}

# One measurement of each flood: $1 the configuration's name (the rest, as
# measure's, unused). The flood runs alone for flood_alone seconds (verdictd's
# CPU time per flood packet is taken then), then beside iperf3, and outlasts it.
flood_alone=2
flood_measure() {
  local name=$1 kind flood out="/tmp/$id-flood" gbps before after sent ticks alone
  local duration=$((flood_alone + seconds + 1))
  for kind in "${floods[@]}"; do
    [[ $name == verdictd* ]] && before=$(lookup_counts)
    if [ "$kind" != none ]; then
      netns "$client" taskset -c "$sender_cpu" "$spoof" "$kind" "$server_address" "$flood_pps" \
        "$duration" >"$out" &  # $! must be the flood
      flood=$!
      pids+=("$flood")
      if [[ $name == verdictd* ]]; then
        ticks=$(cpu_ticks) alone=$(lookup_counts)
        sleep "$flood_alone"
        ticks=$(($(cpu_ticks) - ticks)) alone=$(($(misses "$(lookup_counts)") - $(misses "$alone")))
      else
        sleep "$flood_alone"
      fi
    fi
    gbps=$(tcp_gbps "$server_address")
    if [ "$kind" != none ]; then
      wait "$flood"
      sent=$(cat "$out")
      flood_kpps[$name $kind]=$((sent / duration / 1000))
    fi
    if [[ $name == verdictd* ]]; then
      after=$(lookup_counts)
      flood_lookups[$name $kind]=$(lookup_delta "$before" "$after")
      if [ "$kind" != none ]; then
        # Microseconds of verdictd's CPU per flood packet it looked up, while
        # the flood ran alone.
        flood_cpu[$name $kind]=$(/usr/bin/python3 -c \
          "print('%.2f' % ($ticks * 1e6 / $(getconf CLK_TCK) / $alone) if $alone else '-')")
      fi
    fi
    flood_tcp[$name $kind]=$(/usr/bin/python3 -c "print(max(${flood_tcp[$name $kind]:-0}, $gbps))")
  done
  rm -f "$out"
}

measurement=flood_measure
configurations=(kernel-stateful verdictd-stateful)
[ -n "${BENCH_BASELINE_VERDICTD:-}" ] && configurations+=(verdictd-baseline-stateful)
for _ in $(seq "$runs"); do
  kernel_rules kernel-stateful "$stateful"
  verdictd_rules verdictd-stateful "$stateful"
  if [ -n "${BENCH_BASELINE_VERDICTD:-}" ]; then
    verdictd_rules verdictd-baseline-stateful "$stateful" "$BENCH_BASELINE_VERDICTD"
  fi
done

for name in "${configurations[@]}"; do
  for kind in "${floods[@]}"; do
    line="$name flood=$kind tcp_gbps=${flood_tcp[$name $kind]}"
    [ "$kind" != none ] && line+=" flood_kpps=${flood_kpps[$name $kind]}"
    [[ $name == verdictd* ]] && line+=" (last round: ${flood_lookups[$name $kind]}"
    [[ $name == verdictd* && $kind != none ]] &&
      line+=" cpu_us_per_miss=${flood_cpu[$name $kind]}"
    [[ $name == verdictd* ]] && line+=")"
    echo "$line"
  done
done
ratio() { /usr/bin/python3 -c "print('%.2f' % ($1 / $2 if $2 else 0))"; }
for name in "${configurations[@]}"; do
  for kind in ack udp; do
    line="$name flood=$kind/none tcp=$(ratio "${flood_tcp[$name $kind]}" "${flood_tcp[$name none]}")"
    [ "$name" != kernel-stateful ] &&
      line+="  $name/kernel-stateful flood=$kind tcp=$(ratio "${flood_tcp[$name $kind]}" "${flood_tcp[kernel-stateful $kind]}")"
    echo "$line"
  done
done
