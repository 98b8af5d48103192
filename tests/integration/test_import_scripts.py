"""Classic firewall shell scripts (tests/import/scripts/*.sh), run as an admin
runs them and imported into verdictd, must give the same outcomes:

  kernel    the script itself, run with bash in the router namespace, with a
            PATH whose first directory maps `iptables` and `ip6tables` to the
            legacy tools and makes `modprobe` and `sysctl` do nothing;
  verdictd  `verdictctl import --script` turns the script into a JSON
            ruleset (every line it skips is listed on stderr, and must be
            exactly the script's non-iptables lines), `verdictctl check`
            accepts it, and verdictd in the router enforces it, the kernel's
            tables empty.

Each run starts from empty tables and an empty conntrack table; the same
probes, phase by phase, must give the outcome stated for each under both (so
the test also fails when both are wrong). As in oracle.LabTestCase, verdictd
must have queued packets, exit 0 and leave no lasting divergence between its
tracker and the kernel's conntrack.

The scripts: a host firewall on the router (both families), a NAT gateway
with a port forward, an nth round-robin load balancer (its second backend
down, so that which backend a connection reached shows), port knocking with
one recent match per rule, SYN and ping limits, egress filtering on OUTPUT,
and drops of stealth scans and INVALID packets.
"""
# ctest labels: import

import os
import re
import sys
import tempfile
import unittest

from lab import CLIENT, EXTRA_CLIENT_V4, ROUTER, SERVER, TOP, run, verdictctl_binary
from oracle import MODES, LabTestCase, queue_packets
from probes import Ping, RawIcmp, RawTcp, Tcp, TcpEcho, Udp

C, R, S, RW, RL = CLIENT, ROUTER, SERVER, "router-wan", "router-lo"
X0, X1, X2, X3 = EXTRA_CLIENT_V4[:4]
SCRIPTS = os.path.join(TOP, "tests", "import", "scripts")

# What the kernel run puts first in PATH: name -> what it runs.
SHIMS = {"iptables": "/usr/sbin/iptables-legacy", "ip6tables": "/usr/sbin/ip6tables-legacy",
         "modprobe": "/bin/true", "sysctl": "/bin/true"}

_SKIPPED = re.compile(r"^[^:]+:\d+: skipped \((.*?)\): (.*)$")
NOT_IPTABLES = "not an iptables command"


def skipped_lines(stderr):
    """[(reason, line)] of `verdictctl import`'s stderr; a line of another
    form stays whole, so that a comparison shows it."""
    found = []
    for line in stderr.splitlines():
        m = _SKIPPED.match(line)
        found.append((m.group(1), m.group(2)) if m else line)
    return found


class ImportScriptsTest(LabTestCase):

    def run_script_in_kernel(self, script, work):
        shims = os.path.join(work, "bin")
        os.mkdir(shims)
        for name, target in SHIMS.items():
            os.symlink(target, os.path.join(shims, name))
        path = shims + ":" + os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        done = self.lab.ns[ROUTER].run(["env", "PATH=" + path, "bash", script], check=False)
        # Without `set -e` a failed iptables line would not fail the script:
        # its error message does.
        self.assertEqual((done.returncode, done.stderr), (0, ""),
                         f"{os.path.basename(script)} under the kernel: {done.stdout}")

    def check_script(self, name, skipped, phases, tcp=None, udp=None):
        """Imports and runs tests/import/scripts/NAME.sh both ways; `skipped`
        is [(reason, line)] that the import must list, `phases` lists of
        (probe, expected outcome)."""
        script = os.path.join(SCRIPTS, name + ".sh")
        work = tempfile.mkdtemp(prefix=name + "-", dir=self.lab.tmp)
        imported = run([verdictctl_binary(), "import", "--script", script], check=False)
        self.assertEqual(imported.returncode, 0, f"verdictctl import --script {script}: "
                         f"{imported.stderr}")
        self.assertEqual(skipped_lines(imported.stderr), skipped,
                         f"the lines `verdictctl import` skipped in {name}.sh")
        ruleset = os.path.join(work, name + ".json")
        with open(ruleset, "w") as f:
            f.write(imported.stdout)
        self.lab.ctl("check", ruleset)

        results, divergence, log = {}, "", ""
        for mode in MODES:
            self.lab.kernel_reset()
            self.lab.flush_conntrack()
            daemon = None
            try:
                if mode == "kernel":
                    self.run_script_in_kernel(script, work)
                else:
                    daemon = self.start_verdictd(ruleset)
                self.serve(tcp, udp)
                results[mode] = [self.probe([p for p, _ in phase]) for phase in phases]
                if daemon:
                    queued = daemon.ctl("status").stdout
                    divergence = self.lasting_divergences(daemon)
            finally:
                if self.servers:
                    self.servers.close()
                    self.servers = None
                if daemon:
                    self.daemons.remove(daemon)
                    status = daemon.stop()
                    log = daemon.read_log()
                self.lab.kernel_reset()  # the script's rules, or verdictd's steering
            if daemon:
                self.assertTrue(any(packets for _, packets in queue_packets(queued).values()),
                                f"{name}: no packet reached verdictd:\n{queued}")
                self.assertEqual(status, 0, f"{name}: verdictd exited {status}:\n{log}")
        self.lab.flush_conntrack()

        differences, wrong = [], []
        for i, pairs in enumerate(phases):
            kernel, userspace = results["kernel"][i], results["verdictd"][i]
            for probe, want in pairs:
                got_k, got_v = kernel[str(probe)], userspace[str(probe)]
                if got_k != got_v:
                    differences.append(f"  phase {i + 1}: {probe}: kernel {got_k}, "
                                       f"verdictd {got_v}")
                if got_k != want:
                    wrong.append(f"  phase {i + 1}: {probe}: expected {want}, kernel {got_k}")
        if differences:
            self.fail(f"{name}.sh: verdictd differs from the kernel:\n" + "\n".join(differences)
                      + f"\nverdictd log:\n{log}")
        if wrong:
            self.fail(f"{name}.sh: kernel and verdictd agree, but not with the expectation:\n"
                      + "\n".join(wrong))
        if divergence:
            self.fail(f"{name}.sh: {divergence}")
        count = sum(len(phase) for phase in phases)
        print(f"script {name}.sh: {count} probes, kernel == verdictd", file=sys.stderr)

    def test_host_firewall(self):
        self.check_script("host_firewall", [
            (NOT_IPTABLES, 'echo "Loading host firewall..."'),
            (NOT_IPTABLES, "modprobe ip_tables"),
            (NOT_IPTABLES, "modprobe nf_conntrack"),
            ("changes no rule", "iptables -Z"),
            (NOT_IPTABLES, 'echo "Host firewall loaded."'),
        ], [[
            (TcpEcho(C, R, 22, 4), "open"),            # ssh from the LAN
            (TcpEcho(C, R, 22, 6), "open"),
            (Tcp(S, RW, 22, 4), "timeout"),            # not from the WAN
            (Tcp(S, RW, 22, 6), "timeout"),
            (TcpEcho(S, RW, 80, 4), "open"),           # the web server, from anywhere
            (TcpEcho(S, RW, 443, 6), "open"),
            (TcpEcho(C, R, 443, 4), "open"),
            (Tcp(C, R, 8080, 4), "refused"),           # the LAN gets a reset
            (Tcp(C, R, 8080, 6), "refused"),
            (Tcp(S, RW, 8080, 4), "timeout"),          # the WAN gets nothing
            (Udp(C, R, 53, 4), "refused"),
            (Udp(S, RW, 53, 4), "lost"),
            (Ping(C, R, 4), "reply"),
            (Ping(S, RW, 4), "reply"),
            (Ping(S, RW, 6), "reply"),
            (RawIcmp(C, R, 13), "dropped"),            # timestamp request
            (TcpEcho(R, S, 80, 4), "open"),            # the router's own, replies come back
            (TcpEcho(R, S, 80, 6), "open"),
            (Udp(R, S, 53, 4), "received"),
            (TcpEcho(C, S, 80, 4), "open"),            # forwarded: untouched
        ]], tcp={R: [22, 80, 443, 8080], S: [80]}, udp={R: [53], S: [53]})

    def test_nat_gateway(self):
        self.check_script("nat_gateway", [
            (NOT_IPTABLES, "echo 1 > /proc/sys/net/ipv4/ip_forward"),
            (NOT_IPTABLES, "modprobe iptable_nat"),
            (NOT_IPTABLES, 'echo "NAT gateway up: $LAN_NET -> $WAN_IF, :$PUBLIC_PORT -> '
                           '$WEB_HOST:$WEB_PORT"'),
        ], [[
            (TcpEcho(C, S, 80, 4), "open"),            # the LAN goes out, masqueraded
            (TcpEcho(C, S, 80, 6), "open"),
            (TcpEcho(C, S, 22, 4, size=3000), "open"),
            (Udp(C, S, 53, 4), "received"),
            (Ping(C, S, 4), "reply"),
            (Tcp(C, S, 81, 4), "refused"),             # the server's reset, masqueraded back
            (Tcp(C, S, 81, 6), "refused"),
            (TcpEcho(S, RW, 8080, 4), "open"),         # the port forward to the LAN's web server
            (Tcp(S, RW, 2222, 4), "refused"),          # forwarded to ssh, which is down
            (Tcp(S, C, 8001, 4), "timeout"),           # the LAN is closed from the WAN...
            (Tcp(S, C, 8001, 6), "timeout"),
            (TcpEcho(S, C, 80, 4), "open"),            # ...but for the forward rule's port:
            (Tcp(S, C, 80, 6), "timeout"),             # it does not ask for a DNAT
            (Ping(S, C, 4), "none"),
            (Ping(S, C, 6), "reply"),
            (Tcp(S, RW, 8081, 4), "refused"),          # not forwarded: the router's own port
        ]], tcp={S: [80, 22], C: [80, 8001]}, udp={S: [53]})

    def test_load_balancer(self):
        # Backend 1 (client:8001) serves, backend 2 (client:8002) is down:
        # connections alternate between "open" and "refused".
        rounds = [[(Tcp(S, RW, 8080, 4), "open" if n % 2 == 0 else "refused")] for n in range(4)]
        rounds[0] += [(Tcp(S, C, 8001, 4), "timeout"),  # not balanced: not forwarded
                      (TcpEcho(C, S, 80, 4), "open")]
        self.check_script("load_balancer", [
            (NOT_IPTABLES, "set -e"),
            (NOT_IPTABLES, "sysctl -w net.ipv4.ip_forward=1 >/dev/null"),
            (NOT_IPTABLES, 'echo "balancing $PUBLIC_IP:$PUBLIC_PORT over $BACKEND1 and '
                           '$BACKEND2"'),
            (NOT_IPTABLES, "exit 0"),
        ], rounds, tcp={C: [8001], S: [80]})

    def test_port_knock(self):
        def knock(port, src_addr=None):
            return (Tcp(C, R, port, 4, src_addr=src_addr, give_up=0.3), "timeout")
        self.check_script("port_knock", [
            (NOT_IPTABLES, "modprobe xt_recent"),
        ], [
            [(Tcp(C, R, 22, 4, give_up=0.5), "timeout"),   # closed before knocking
             (Tcp(C, R, 22, 6, give_up=0.5), "timeout"),
             (Ping(C, R, 4), "reply")],
            [knock(7000), knock(8000, X1)],                # X1 knocks in the wrong order
            [knock(8000), knock(7000, X1)],
            [(TcpEcho(C, R, 22, 4), "open"),               # knocked: open, data both ways
             (Tcp(C, R, 22, 4, src_addr=X1, give_up=0.5), "timeout"),
             (Tcp(C, R, 22, 4, src_addr=X0, give_up=0.5), "timeout"),
             (Tcp(C, R, 22, 6, give_up=0.5), "timeout"),
             (Ping(C, R, 6), "reply")],
        ], tcp={R: [22]})

    def test_syn_limits(self):
        # SYNs: a burst of 3, then one every 6 s (none within the test).
        # The echo requests of a ping are 50 ms apart: back to back, the
        # second reaches verdictd's queue before the first is confirmed, and
        # the kernel's conntrack drops it as a clash (insert_failed) once
        # verdictd accepts it, which the kernel alone never does.
        self.check_script("syn_limits", [
            (NOT_IPTABLES, "sysctl -w net.ipv4.tcp_syncookies=1"),
        ], [
            [(TcpEcho(C, R, 80, 4), "open"),
             (Ping(C, R, 4, count=5, interval=0.05), "2/5 replies"),
             (Ping(C, R, 6, count=4, interval=0.05), "2/4 replies")],
            [(TcpEcho(C, R, 80, 4, src_addr=X0), "open"),
             (TcpEcho(C, R, 80, 4, src_addr=X1), "open")],
            [(Tcp(C, R, 80, 4, src_addr=X2, give_up=0.5), "timeout"),
             (Tcp(C, R, 80, 4, src_addr=X3, give_up=0.5), "timeout"),
             (TcpEcho(C, R, 80, 6), "open"),           # IPv6 SYNs are not limited
             (TcpEcho(C, S, 80, 4), "open"),           # nor forwarded ones
             (Ping(C, R, 4), "none")],
        ], tcp={R: [80], S: [80]})

    def test_egress_filter(self):
        self.check_script("egress_filter", [
            (NOT_IPTABLES, 'echo "egress filter: starting"'),
            (NOT_IPTABLES, 'echo "egress filter: done"'),
        ], [[
            (TcpEcho(R, S, 80, 4), "open"),
            (TcpEcho(R, S, 443, 6), "open"),
            (Tcp(R, S, 8080, 4), "timeout"),
            (Tcp(R, S, 8080, 6), "timeout"),
            (TcpEcho(R, S, 53, 4), "open"),            # DNS to the resolver, both transports
            (Udp(R, S, 53, 4), "received"),
            (Udp(R, S, 53, 6), "received"),
            (Udp(R, S, 123, 4), "received"),
            (Udp(R, S, 5353, 4), "lost"),
            (Udp(R, S, 123, 6), "lost"),               # no NTP rule for IPv6
            (TcpEcho(R, C, 22, 4), "open"),            # ssh into the LAN
            (Tcp(R, C, 8080, 4), "timeout"),
            (Ping(R, S, 4), "reply"),
            (Ping(R, S, 6), "reply"),
            (TcpEcho(R, RL, 22, 4), "open"),           # loopback
            (TcpEcho(C, R, 22, 4), "open"),            # inbound: replies are ESTABLISHED
            (TcpEcho(S, RW, 22, 6), "open"),
            (Udp(S, RW, 5353, 4), "refused"),          # the port unreachable is RELATED
            (TcpEcho(C, S, 8080, 4), "open"),          # forwarded: not OUTPUT's business
        ]], tcp={S: [80, 443, 8080, 53], C: [22, 8080], R: [22]}, udp={S: [53, 123, 5353]})

    def test_scan_guard(self):
        self.check_script("scan_guard", [
            (NOT_IPTABLES, "modprobe nf_conntrack"),
            (NOT_IPTABLES, "modprobe xt_conntrack"),
        ], [[
            (TcpEcho(C, R, 80, 4), "open"),
            (TcpEcho(C, R, 80, 6), "open"),
            (TcpEcho(C, S, 80, 4), "open"),
            (TcpEcho(C, S, 80, 6), "open"),
            (RawTcp(C, R, 80, "SYN"), "delivered"),
            (RawTcp(C, R, 80, ""), "dropped"),                # NULL scan
            (RawTcp(C, R, 80, "FIN,PSH,URG"), "dropped"),     # XMAS scan
            (RawTcp(C, R, 80, "SYN,FIN"), "dropped"),
            (RawTcp(C, R, 80, "SYN,RST"), "dropped"),
            (RawTcp(C, R, 80, "ACK"), "dropped"),             # new, but no SYN
            (RawTcp(C, S, 80, "SYN"), "delivered"),
            (RawTcp(C, S, 80, "FIN,PSH,URG"), "dropped"),
            (RawTcp(C, S, 80, "ACK"), "dropped"),
            (RawTcp(C, R, 80, "SYN", 6), "delivered"),
            (RawTcp(C, R, 80, "", 6), "dropped"),
            (RawTcp(C, R, 80, "FIN,PSH,URG", 6), "dropped"),
            (RawTcp(C, R, 80, "ACK", 6), "delivered"),        # no such rule for IPv6
            (RawTcp(C, S, 80, "", 6), "dropped"),
            (RawTcp(C, S, 80, "FIN", 6), "dropped"),          # INVALID: a FIN alone
        ]], tcp={R: [80], S: [80]})


if __name__ == "__main__":
    unittest.main()
