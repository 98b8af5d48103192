"""NAT on real traffic (issue 4), each scenario run twice in the same lab:
with the kernel's own NAT (the ruleset exported and loaded with
iptables-legacy-restore into the router) and with verdictd enforcing the same
JSON. Both must give the expected outcomes, so they agree with each other.

gateway         MASQUERADE on wan0 (nat_gateway.json): the server sees the
                router's address; two clients with the same source port get
                distinct mapped ports (the first keeps its own); ping, UDP
                request and answer, an ICMP port unreachable that reaches the
                client translated; only replies of masqueraded connections
                come in (ctstate SNAT); `conntrack` shows both tuples.
port forwarding DNAT, REDIRECT, 1:1 NAT, DNAT at OUTPUT, NETMAP, UDP forwarding
                (nat_port_forward.json), IPv6 port forwarding, ctstate DNAT;
                a 100 MB transfer through DNAT and SNAT, hashed on arrival.
load balancers  statistic nth round robin over three backends gives the
                kernel's backend sequence exactly; statistic random spreads
                300 connections within 5 standard deviations (nat_balance.json).

Every answer comes from a PeerServer (nat_probes.py), which tells which
address and port it saw the connection come from and arrive at.

VERDICTD_NAT_MODES=kernel runs the kernel half only (to check expectations
on another kernel).
"""

import hashlib
import math
import os
import re
import sys
import tempfile
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from nat_probes import PeerServer, ask_tcp, ask_udp, open_tcp, read_answer, transfer
from oracle import LabTestCase, ruleset_path
from probes import Ping, Tcp, run_probes
from test_daemon import list_rows

C, R, S = CLIENT, ROUTER, SERVER
MODES = os.environ.get("VERDICTD_NAT_MODES", "kernel,verdictd").split(",")

ROUTER_LAN_V4, ROUTER_LAN_V6 = ADDR[(R, 4)], ADDR[(R, 6)]
SERVER_V4, SERVER_V6 = ADDR[(S, 4)], ADDR[(S, 6)]

TRANSFER_BYTES = 100 * 1024 * 1024


def tuples_text(line, client_port):
    """The two tuples of a conntrack line, the client's port written C."""
    fields = re.findall(r"\b(src|dst|sport|dport)=(\S+)", line)
    words = [f"{k}={'C' if v == str(client_port) else v}" for k, v in fields]
    return "orig " + " ".join(words[:4]) + "; reply " + " ".join(words[4:8])


class NatTestCase(LabTestCase):

    def setUp(self):
        super().setUp()
        self.peer_servers = []
        self.log = ""  # the last verdictd's, for failure messages

    def tearDown(self):
        for server in self.peer_servers:
            server.close()
        super().tearDown()

    def peer_server(self, where, tcp=(), udp=()):
        server = PeerServer(self.lab.ns[where], tcp, udp)
        self.peer_servers.append(server)
        return server

    def forward_packets(self, mode, daemon, rules):
        """Packet counters of the first `rules` filter FORWARD rules (IPv4).
        verdictd counts a rule that applies to both families once; the kernel
        has a rule in each table: its IPv6 counter is added to the IPv4 one
        for the rules that come first in both tables (no IPv4-only rule
        before them)."""
        if mode == "kernel":
            rows = self.lab.kernel_counters(4, "filter", "FORWARD")
            v6 = self.lab.kernel_counters(6, "filter", "FORWARD")
            shared = getattr(self, "rules_for_both_families", 0)
            rows = [(p + (v6[i][0] if i < shared else 0), b) for i, (p, b) in enumerate(rows)]
        else:
            rows = list_rows(daemon.ctl("list", "-v", "--line-numbers", "-4").stdout, "FORWARD")[0]
        return " ".join(str(packets) for packets, _ in rows[:rules])

    def conntrack_lines(self, mode, daemon, *selection):
        if mode == "kernel":
            return self.lab.ns[R].run(["conntrack", "-L", *selection]).stdout.splitlines()
        return daemon.ctl("conntrack", *selection).stdout.splitlines()

    def in_both_modes(self, name, body):
        """body(mode, daemon) -> {item: outcome} in the oracle loop, for the
        modes of VERDICTD_NAT_MODES. Returns {mode: outcomes}."""
        logs = []

        def run(side):
            if side.daemon:
                logs.append(side.daemon.read_log)
            return body(side.mode, side.daemon)

        results = dict(zip(MODES, self.against_the_kernel(ruleset_path(name), run, MODES)))
        self.log = logs[0]() if logs else ""
        return results

    def assert_modes(self, scenario, expected, results):
        """Both modes gave the expected outcomes; a difference between them
        is reported first, with both outcomes."""
        for mode, outcomes in results.items():
            for item, outcome in outcomes.items():
                print(f"{scenario} [{mode}] {item}: {outcome}", file=sys.stderr)
        problems = []
        if "kernel" in results and "verdictd" in results:
            for item in expected:
                k, v = results["kernel"][item], results["verdictd"][item]
                if k != v:
                    problems.append(f"  {item}:\n    kernel   {k}\n    verdictd {v}")
            if problems:
                problems.insert(0, f"scenario {scenario}: verdictd differs from the kernel:")
        for mode, outcomes in results.items():
            wrong = [f"  {item}: expected {want!r}, {mode} gave {outcomes[item]!r}"
                     for item, want in expected.items() if outcomes[item] != want]
            if wrong:
                problems.append(f"scenario {scenario}, {mode}, not as expected:")
                problems += wrong
        if problems:
            self.fail("\n".join(problems) + (f"\nverdictd log:\n{self.log}" if self.log else ""))


class GatewayTest(NatTestCase):

    SAME_PORT = 47001
    CLIENT_A, CLIENT_B = "10.1.0.10", "10.1.0.11"

    def same_port_pair(self):
        """Two clients, one source port, one server: the ports it saw."""
        client = self.lab.ns[C]
        first = open_tcp(client, SERVER_V4, 7001, bind=(self.CLIENT_A, self.SAME_PORT))
        if isinstance(first, str):
            return f"first {first}"
        with first:
            first_answer = read_answer(first)
            second = open_tcp(client, SERVER_V4, 7001, bind=(self.CLIENT_B, self.SAME_PORT))
            if isinstance(second, str):
                return f"second {second}"
            with second:
                second_answer = read_answer(second)
        if first_answer is None or second_answer is None:
            return "no answer"
        (addr_a, port_a), (addr_b, port_b) = [a.split()[:2] for a in (first_answer, second_answer)]
        port_a, port_b = int(port_a), int(port_b)
        kept = lambda port: "kept" if port == self.SAME_PORT else "changed"
        ranged = "in 1024-65535" if 1024 <= port_b <= 65535 else f"out of range ({port_b})"
        return (f"seen as {addr_a} and {addr_b}; first port {kept(port_a)}, second {kept(port_b)} "
                f"{ranged}; {'distinct' if port_a != port_b else 'the same'}")

    def listing(self, mode, daemon):
        """A live connection to server:7001 as the connection table lists it."""
        held = open_tcp(self.lab.ns[C], SERVER_V4, 7001)
        if isinstance(held, str):
            return held
        with held:
            read_answer(held)
            lines = self.conntrack_lines(mode, daemon, "-p", "tcp", "--dport", "7001",
                                         "--state", "ESTABLISHED")
            return " | ".join(tuples_text(l, held.getsockname()[1]) for l in lines)

    def test_masquerade_gateway(self):
        self.rules_for_both_families = 1  # the udp counting rule; the icmp one is IPv4's
        self.peer_server(S, tcp=[7001], udp=[7002])
        self.peer_server(C, tcp=[22])

        def body(mode, daemon):
            out = {
                "tcp4 client -> server:7001": ask_tcp(self.lab.ns[C], SERVER_V4, 7001),
                "tcp6 client -> server:7001": ask_tcp(self.lab.ns[C], SERVER_V6, 7001),
                "two clients, same source port": self.same_port_pair(),
                "udp4 client -> server:7002, 3 exchanges": ask_udp(self.lab.ns[C], SERVER_V4, 7002),
                "udp6 client -> server:7002, 3 exchanges": ask_udp(self.lab.ns[C], SERVER_V6, 7002),
                "udp4 client -> server:7009 (closed)": ask_udp(self.lab.ns[C], SERVER_V4, 7009, 1),
                "udp6 client -> server:7009 (closed)": ask_udp(self.lab.ns[C], SERVER_V6, 7009, 1),
            }
            out.update(run_probes(self.lab, [Ping(C, S, 4), Ping(C, S, 6), Tcp(S, C, 22, 4),
                                             Tcp(S, C, 22, 6)]))
            out["FORWARD udp, icmp packets in state SNAT"] = self.forward_packets(mode, daemon, 2)
            out["conntrack listing"] = self.listing(mode, daemon)
            return out

        expected = {
            "tcp4 client -> server:7001": "seen as 10.2.0.1 port kept, reached 10.2.0.2:7001",
            "tcp6 client -> server:7001": "seen as fd02::1 port kept, reached fd02::2:7001",
            "two clients, same source port": "seen as 10.2.0.1 and 10.2.0.1; first port kept, "
                                             "second changed in 1024-65535; distinct",
            "udp4 client -> server:7002, 3 exchanges":
                "3/3 answered, seen as 10.2.0.1 port kept, reached -:7002",
            "udp6 client -> server:7002, 3 exchanges":
                "3/3 answered, seen as fd02::1 port kept, reached -:7002",
            "udp4 client -> server:7009 (closed)": "refused",
            "udp6 client -> server:7009 (closed)": "refused",
            "ping4 client -> server": "reply",
            "ping6 client -> server": "reply",
            # Not a reply of a masqueraded connection: dropped.
            "tcp4 server -> client:22": "timeout",
            "tcp6 server -> client:22": "timeout",
            # The first request is not SNAT yet at FORWARD (POSTROUTING comes
            # after); the other two and the three answers are: 5. The echo
            # reply and the port unreachable: 2.
            "FORWARD udp, icmp packets in state SNAT": "10 2",
            "conntrack listing": "orig src=10.1.0.2 dst=10.2.0.2 sport=C dport=7001; "
                                 "reply src=10.2.0.2 dst=10.2.0.1 sport=7001 dport=C",
        }
        self.assert_modes("gateway", expected, self.in_both_modes("nat_gateway", body))


class PortForwardTest(NatTestCase):

    def listing(self, mode, daemon):
        """A live port-forwarded connection as the connection table lists it."""
        held = open_tcp(self.lab.ns[C], ROUTER_LAN_V4, 8080)
        if isinstance(held, str):
            return held
        with held:
            read_answer(held)
            lines = self.conntrack_lines(mode, daemon, "-p", "tcp", "--dport", "8080",
                                         "--state", "ESTABLISHED")
            return " | ".join(tuples_text(l, held.getsockname()[1]) for l in lines)

    def test_port_forwarding(self):
        self.peer_server(S, tcp=[80, 7001], udp=[53])
        self.peer_server(R, tcp=[8081])
        self.peer_server(C, tcp=[7003])
        client, server, router = (self.lab.ns[x] for x in (C, S, R))

        def body(mode, daemon):
            out = {
                "tcp4 client -> 10.1.0.1:8080": ask_tcp(client, ROUTER_LAN_V4, 8080),
                "tcp6 client -> [fd01::1]:8080": ask_tcp(client, ROUTER_LAN_V6, 8080),
                "tcp4 client from 10.1.0.12 -> server:80 (REDIRECT)":
                    ask_tcp(client, SERVER_V4, 80, bind=("10.1.0.12", 0)),
                "tcp4 client from 10.1.0.13 -> server:7001 (1:1 out)":
                    ask_tcp(client, SERVER_V4, 7001, bind=("10.1.0.13", 0)),
                "tcp4 server -> 10.3.0.13:7003 (1:1 in)": ask_tcp(server, "10.3.0.13", 7003),
                "tcp4 router -> 10.2.0.77:80 (OUTPUT DNAT)": ask_tcp(router, "10.2.0.77", 80),
                "tcp4 client -> 10.9.0.2:80 (NETMAP)": ask_tcp(client, "10.9.0.2", 80),
                "tcp4 client -> 10.9.0.1:8081 (NETMAP)": ask_tcp(client, "10.9.0.1", 8081),
                "udp4 client -> 10.1.0.1:5353, 3 exchanges": ask_udp(client, ROUTER_LAN_V4, 5353),
                "udp4 client -> 10.1.0.1:5354 (to a closed port)":
                    ask_udp(client, ROUTER_LAN_V4, 5354, 1),
            }
            out.update(run_probes(self.lab, [Tcp(C, S, 80, 4), Tcp(C, S, 80, 6)]))
            out["FORWARD udp, icmp packets in state DNAT"] = self.forward_packets(mode, daemon, 2)
            out["conntrack listing"] = self.listing(mode, daemon)
            return out

        expected = {
            "tcp4 client -> 10.1.0.1:8080": "seen as 10.1.0.2 port kept, reached 10.2.0.2:80",
            "tcp6 client -> [fd01::1]:8080": "seen as fd01::2 port kept, reached fd02::2:80",
            "tcp4 client from 10.1.0.12 -> server:80 (REDIRECT)":
                "seen as 10.1.0.12 port kept, reached 10.1.0.1:8081",
            "tcp4 client from 10.1.0.13 -> server:7001 (1:1 out)":
                "seen as 10.3.0.13 port kept, reached 10.2.0.2:7001",
            "tcp4 server -> 10.3.0.13:7003 (1:1 in)":
                "seen as 10.2.0.2 port kept, reached 10.1.0.13:7003",
            "tcp4 router -> 10.2.0.77:80 (OUTPUT DNAT)":
                "seen as 10.2.0.1 port kept, reached 10.2.0.2:80",
            "tcp4 client -> 10.9.0.2:80 (NETMAP)": "seen as 10.1.0.2 port kept, reached 10.2.0.2:80",
            "tcp4 client -> 10.9.0.1:8081 (NETMAP)":
                "seen as 10.1.0.2 port kept, reached 10.2.0.1:8081",
            "udp4 client -> 10.1.0.1:5353, 3 exchanges":
                "3/3 answered, seen as 10.1.0.2 port kept, reached -:53",
            "udp4 client -> 10.1.0.1:5354 (to a closed port)": "refused",
            # The server's web port only through a port forward (ctstate DNAT).
            "tcp4 client -> server:80": "timeout",
            "tcp6 client -> server:80": "timeout",
            # Three requests and three answers, one request to the closed
            # port: 7 UDP; the port unreachable about it: 1.
            "FORWARD udp, icmp packets in state DNAT": "7 1",
            "conntrack listing": "orig src=10.1.0.2 dst=10.1.0.1 sport=C dport=8080; "
                                 "reply src=10.2.0.2 dst=10.1.0.2 sport=80 dport=C",
        }
        self.assert_modes("port forwarding", expected,
                          self.in_both_modes("nat_port_forward", body))

    def test_large_transfer_through_dnat_and_snat(self):
        with tempfile.NamedTemporaryFile(dir=self.lab.tmp, delete=False) as f:
            data = os.urandom(TRANSFER_BYTES)
            f.write(data)
            path = f.name
        want = hashlib.sha256(data).hexdigest()
        del data

        def body(mode, daemon):
            digest, size, peer = transfer(self.lab, C, S, ROUTER_LAN_V4, 9000, path)
            return {"100 MB client -> 10.1.0.1:9000 -> server:9000":
                    f"{'same' if digest == want else 'different'} SHA-256, {size} bytes, "
                    f"seen as {peer}"}

        try:
            results = self.in_both_modes("nat_port_forward", body)
        finally:
            os.unlink(path)
        self.assert_modes("large transfer", {
            "100 MB client -> 10.1.0.1:9000 -> server:9000":
                f"same SHA-256, {TRANSFER_BYTES} bytes, seen as 10.2.0.1"}, results)


class LoadBalancerTest(NatTestCase):

    BACKENDS = ("1111", "2222", "3333")

    def backend(self):
        """The backend port a new connection to the router's port reached."""
        answer = ask_tcp(self.lab.ns[C], ROUTER_LAN_V4, self.port, raw=True)
        return answer.split()[3] if answer.count(" ") == 3 else answer

    def test_round_robin_gives_the_kernels_sequence(self):
        self.peer_server(S, tcp=[int(b) for b in self.BACKENDS])
        self.port = 80

        def body(mode, daemon):
            return {"backends of 30 connections": " ".join(self.backend() for _ in range(30))}

        self.assert_modes("round robin", {"backends of 30 connections": " ".join(
            self.BACKENDS * 10)}, self.in_both_modes("nat_balance", body))

    def test_random_spreads_within_tolerance(self):
        self.peer_server(S, tcp=[int(b) for b in self.BACKENDS])
        self.port = 81
        connections = 300
        # P(1111) = 0.33, P(2222) = 0.67 * 0.5, P(3333) the rest; each count
        # within 5 standard deviations of its mean.
        shares = {"1111": 0.33, "2222": 0.335, "3333": 0.335}

        def body(mode, daemon):
            reached = [self.backend() for _ in range(connections)]
            out = {}
            for port, share in shares.items():
                mean = connections * share
                sigma = math.sqrt(connections * share * (1 - share))
                count = reached.count(port)
                print(f"random [{mode}] {port}: {count} (mean {mean:.0f}, 5 sigma {5 * sigma:.0f})",
                      file=sys.stderr)
                out[f"backend {port}"] = "within 5 sigma" if abs(count - mean) <= 5 * sigma \
                    else f"{count}, mean {mean:.0f}"
            out["other outcomes"] = str(connections - sum(reached.count(p) for p in shares))
            return out

        expected = {f"backend {p}": "within 5 sigma" for p in shares}
        expected["other outcomes"] = "0"
        self.assert_modes("random", expected, self.in_both_modes("nat_balance", body))


if __name__ == "__main__":
    unittest.main()
