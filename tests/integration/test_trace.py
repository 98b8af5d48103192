"""Tracing, with the kernel as the oracle: the TRACE target, `verdictctl
trace` (by TRACE rules, and by a filter on the command line) and `verdictctl
drops`.

The kernel's iptables-legacy logs a TRACE rule's packets through nf_log
("TRACE: table:chain:type:rulenum ..." in dmesg, with
net.netfilter.nf_log_all_netns=1 for the lab's namespace); verdictd streams
them to `verdictctl trace --json`. Both run tests/rulesets/trace.json with
the same traffic: a TCP connection DNATed to the server with data both ways
(through a jump to a chain that RETURNs and a goto into a chain that
accepts), and a SYN DNATed to a port the FORWARD policy drops. Each packet
at each hook gives the kernel's sequence of table:chain:type:rulenum; the
test compares verdictd's with it, at the hooks verdictd is steered to for
this ruleset (PREROUTING, FORWARD, and POSTROUTING for NAT). verdictd's own "nat" steps (the packet translated by its
connection's binding) have no line in the kernel's trace and are checked
apart.
"""

# ctest labels: trace

import collections
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER, verdictctl_binary
from oracle import LabTestCase, ruleset_path

NF_LOG_ALL_NETNS = "/proc/sys/net/netfilter/nf_log_all_netns"
SETTLE = 1.0  # seconds for the last trace lines to arrive
KERNEL_TRACE = re.compile(r"TRACE: (\w+):([\w-]+):(rule|return|policy):(\d+) IN=(\S*) OUT=(\S*) "
                          r".*?SRC=(\S+) DST=(\S+) .*? ID=(\d+)")
BUILTIN = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}
STEERED = {"PREROUTING", "FORWARD", "POSTROUTING"}  # verdictd's hooks for trace.json


def dmesg_after(marker):
    """The kernel's log lines after `marker`, which the test wrote there."""
    lines = subprocess.run(["dmesg", "-t"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if marker in line]
    return lines[starts[-1] + 1:] if starts else []


def mark_kernel_log(marker):
    with open("/dev/kmsg", "w") as f:
        f.write(marker + "\n")


def kernel_sequences(lines):
    """The kernel's TRACE lines of the client's packets, as one sequence of
    "table:chain:type:num" per packet and hook (user chains are FORWARD's)."""
    sequences = []
    current_key = None
    for line in lines:
        m = KERNEL_TRACE.search(line)
        if not m or m.group(7) != ADDR[(CLIENT, 4)]:
            continue
        table, chain, kind, num, _, _, _, _, ident = m.groups()
        hook = chain if chain in BUILTIN else "FORWARD"
        if hook not in STEERED:
            continue
        key = (ident, hook)
        if key != current_key:
            sequences.append((hook, []))
            current_key = key
        sequences[-1][1].append(f"{table}:{chain}:{kind}:{num}")
    return [(hook, tuple(steps)) for hook, steps in sequences]


def chain_lengths(path):
    with open(path) as f:
        tables = json.load(f)["tables"]
    return {(t, c): len(body.get("rules", [])) for t, chains in tables.items()
            for c, body in chains.items()}


def verdictd_sequences(records, lengths):
    """verdictd's records in the kernel's terms: the end of a chain and a
    policy are numbered one past the chain's last rule, as trace_packet
    numbers them; "nat" steps are left out."""
    sequences = []
    for record in records:
        steps = []
        for step in record["steps"]:
            kind = step["kind"]
            if kind == "nat":
                continue
            num = step["rule"] if kind == "rule" else lengths.get((step["table"], step["chain"]), 0) + 1
            steps.append(f"{step['table']}:{step['chain']}:{kind}:{num}")
        sequences.append((record["hook"], tuple(steps)))
    return sequences


class Echo:
    """A TCP echo server on the server's port 80: each connection gets back
    what it sent."""

    def __init__(self, lab, port):
        self.listener = lab.ns[SERVER].socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("0.0.0.0", port))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(5)
                data = conn.recv(4096)
                conn.sendall(data)
                try:
                    conn.recv(4096)  # until the client closes
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        self.thread.join()
        self.listener.close()


class TraceTest(LabTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(NF_LOG_ALL_NETNS) as f:
            cls.nf_log_all_netns = f.read().strip()
        with open(NF_LOG_ALL_NETNS, "w") as f:
            f.write("1")

    @classmethod
    def tearDownClass(cls):
        with open(NF_LOG_ALL_NETNS, "w") as f:
            f.write(cls.nf_log_all_netns)
        super().tearDownClass()

    def traffic(self):
        """One connection through the DNAT to port 80 with data both ways,
        and one SYN DNATed to port 81, which the FORWARD policy drops."""
        echo = Echo(self.lab, 80)
        try:
            s = self.lab.ns[CLIENT].socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect((ADDR[(ROUTER, 4)], 8080))
            s.sendall(b"traced")
            self.assertEqual(s.recv(100), b"traced", "the echo came back")
            s.close()
            d = self.lab.ns[CLIENT].socket(socket.AF_INET, socket.SOCK_STREAM)
            d.settimeout(0.5)  # one SYN: it is dropped, and TCP resends only after 1 s
            with self.assertRaises(OSError):
                d.connect((ADDR[(ROUTER, 4)], 8081))
            d.close()
            time.sleep(SETTLE)
        finally:
            echo.close()

    def follow(self, daemon, *args, json_lines=True):
        """`verdictctl trace --json ARGS` (or its text) in the router, once it follows."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.lab.ns[ROUTER].name, verdictctl_binary(),
             "--socket", daemon.control_socket, "trace", *(["--json"] if json_lines else []),
             *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()
        self.assertIn("following", line, f"verdictctl trace did not start: {line}")
        return proc

    @staticmethod
    def records(proc):
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def test_trace_rule_lists_the_rules_the_kernel_traces(self):
        path = ruleset_path("trace")
        traced = {}

        def body(side):
            if side.daemon is None:
                marker = f"verdictd test_trace {self.lab.id} {time.monotonic()}"
                mark_kernel_log(marker)
                self.traffic()
                traced["kernel"] = kernel_sequences(dmesg_after(marker))
            else:
                proc = self.follow(side.daemon)
                try:
                    self.traffic()
                finally:
                    traced["records"] = self.records(proc)
                drops = json.loads(side.daemon.ctl("drops", "--json").stdout)
                traced["drops"] = drops
                traced["drops_text"] = side.daemon.ctl("drops").stdout

        self.against_the_kernel(path, body)
        kernel = traced["kernel"]
        ours = verdictd_sequences(traced["records"], chain_lengths(path))
        print(f"\n  kernel: {len(kernel)} packet-hook traces, verdictd: {len(ours)}")
        for hook, steps in sorted(collections.Counter(kernel)):
            print(f"  {hook}: {' '.join(steps)}")

        # The first packets, the SYNs, step by step: DNAT, jump, RETURN,
        # goto, the policy.
        syn_to_80 = ("FORWARD", ("mangle:FORWARD:rule:1", "mangle:FORWARD:policy:2",
                                 "filter:FORWARD:rule:3", "filter:tcp_checks:rule:2",
                                 "filter:FORWARD:rule:4", "filter:web:rule:1",
                                 "filter:web:rule:2"))
        syn_to_81 = ("FORWARD", ("mangle:FORWARD:rule:1", "mangle:FORWARD:policy:2",
                                 "filter:FORWARD:rule:3", "filter:tcp_checks:rule:2",
                                 "filter:FORWARD:policy:5"))
        first_at_prerouting = [("PREROUTING", ("raw:PREROUTING:policy:2",
                                               "mangle:PREROUTING:policy:1",
                                               f"nat:PREROUTING:rule:{n}")) for n in (1, 2)]
        for expected in [syn_to_80, syn_to_81, *first_at_prerouting]:
            self.assertIn(expected, kernel, "the kernel traces it so")
            self.assertIn(expected, ours, "verdictd traces it as the kernel")
        # Every packet's trace at every hook is one the kernel gives too, and
        # the other way round (how many packets the data took may differ).
        self.assertEqual(set(ours), set(kernel))
        self.assertEqual(sum(1 for s in ours if s == syn_to_81), 1, "one SYN to port 81")

        # verdictd's records also say what changed and where each rule is.
        records = traced["records"]
        # Every packet of a DNATed connection is translated; the SYNs met the DNAT rules.
        dnat = [r for r in records
                if any(s["kind"] == "rule" and s["table"] == "nat" for s in r["steps"])]
        self.assertEqual(len(dnat), 2, "the two SYNs were DNATed")
        translated = [r for r in records if any(s["kind"] == "nat" for s in r["steps"])]
        self.assertEqual(len(translated),
                         sum(1 for r in records if r["hook"] == "PREROUTING"))
        for record, port in zip(dnat, (80, 81)):
            nat_step = next(s for s in record["steps"] if s["kind"] == "nat")
            self.assertEqual(nat_step["changes"]["destination"], ["10.1.0.1", "10.2.0.2"])
            self.assertEqual(nat_step["changes"]["dport"], [8080 + port - 80, port])
        forward = next(r for r in records if r["hook"] == "FORWARD")
        mark_step = forward["steps"][0]
        self.assertEqual(mark_step["changes"]["mark"], ["0x0", "0x5"])
        self.assertEqual(mark_step["action"], "MARK --set-xmark 0x5/0xffffffff")
        with open(path) as f:
            text = f.read().splitlines()
        for record in records:
            for step in record["steps"]:
                if step["kind"] != "rule":
                    continue
                file, line, column = step["location"].rsplit(":", 2)
                self.assertEqual(file, path)
                self.assertEqual(text[int(line) - 1][int(column) - 1], "{",
                                 f"{step['location']} is where a rule starts")
        dropped = [r for r in records if r["verdict"] == "DROP"]
        self.assertEqual(len(dropped), 1)
        self.assertEqual(dropped[0]["steps"][-1]["outcome"], "drop")

        # `verdictctl drops` names the policy that dropped the SYN, and where it is.
        drops = [d for d in traced["drops"] if d["packet"].get("dport") == 81]
        self.assertEqual(len(drops), 1, traced["drops"])
        by = drops[0]["by"]
        self.assertEqual((by["kind"], by["table"], by["chain"]), ("policy", "filter", "FORWARD"))
        line = int(by["location"].rsplit(":", 2)[1])
        self.assertIn('"FORWARD"', text[line - 1])
        self.assertRegex(traced["drops_text"],
                         rf"FORWARD IN=lan0 OUT=wan0 tcp 10.1.0.2:\d+ > 10.2.0.2:81 \[SYN\] .* "
                         rf"by filter FORWARD policy {re.escape(by['location'])} DROP\n")

    def test_a_filter_follows_packets_without_a_trace_rule(self):
        daemon = self.start_verdictd(ruleset_path("trace"))
        proc = self.follow(daemon, "-p", "udp", "--dport", "5353")
        # A second client at once, reading the text, and only IPv6.
        text_proc = self.follow(daemon, "-p", "udp", "--dport", "5353", "-d", ADDR[(SERVER, 6)],
                                json_lines=False)
        try:
            for family, port in ((4, 5353), (4, 5354), (6, 5353), (6, 5354), (4, 5353)):
                fam = socket.AF_INET if family == 4 else socket.AF_INET6
                s = self.lab.ns[CLIENT].socket(fam, socket.SOCK_DGRAM)
                s.sendto(b"x", (ADDR[(SERVER, family)], port))
                s.close()
            time.sleep(SETTLE)
        finally:
            records = self.records(proc)
            text_proc.terminate()
            text, _ = text_proc.communicate(timeout=10)
        self.assertRegex(text, r"^FORWARD IN=lan0 OUT=wan0 udp \[fd01::2\]:\d+ > \[fd02::2\]:5353 ")
        self.assertIn("\n  filter FORWARD rule 2 ", text)
        self.assertEqual(text.count("verdict ACCEPT\n"), 1, text)
        by_family = collections.defaultdict(list)
        for record in records:
            by_family[record["packet"]["family"]].append(record["hook"])
            self.assertEqual(record["packet"]["dport"], 5353, "only what the filter selects")
            self.assertEqual(record["verdict"], "ACCEPT")
            if record["hook"] == "FORWARD":
                self.assertEqual(
                    [s.get("rule") for s in record["steps"] if s["table"] == "filter"], [2])
        # Two IPv4 packets at each hook verdictd is steered to for IPv4; the
        # IPv6 one at FORWARD, the only IPv6 hook of the ruleset's rules.
        self.assertEqual(sorted(by_family[4]), ["FORWARD", "FORWARD", "POSTROUTING",
                                                "POSTROUTING", "PREROUTING", "PREROUTING"])
        self.assertIn("FORWARD", by_family[6])
        self.assertEqual(by_family[6].count("FORWARD"), 1)

    def test_a_bad_filter_is_refused_with_its_reason(self):
        daemon = self.start_verdictd(ruleset_path("trace"))
        out = daemon.ctl("trace", "--match", '{"dport": 22}', check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("protocol", out.stderr)
        out = daemon.ctl("trace", "--match", '{"connlimit": {"above": 2}}', check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("keeps state", out.stderr)


if __name__ == "__main__":
    unittest.main()
