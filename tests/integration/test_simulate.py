"""`verdictctl simulate` agrees with the live daemon: every probe of the
filtering scenarios (test_filtering.py) and of the stateful firewalls
(test_conntrack_firewalls.py, test_conntrack_features.py) goes through a
verdictd in the lab,
and the same packet, described on simulate's command line, through simulate;
their outcomes must agree probe for probe, and every commented rule simulate
says a packet matched must have counted packets in the daemon. Also simulate's
command line: its exit status and its JSON.
# ctest labels: trace
"""

import json
import os
import subprocess
import tempfile
import unittest

import test_conntrack_features
import test_conntrack_firewalls
import test_filtering
from ct_probes import UdpEcho
from lab import ADDR, CLIENT, ROUTER, SERVER, run, verdictctl_binary
from oracle import Action, LabTestCase, listing_counters, ruleset_path
from probes import Ping, RawIcmp, RawProto, RawTcp, Tcp, Udp, _ns_of, address

SCENARIO_TESTS = (test_filtering.FilteringTest, test_conntrack_firewalls.StatefulFirewallTest,
                  test_conntrack_features.ConntrackFeaturesTest)

ROUTER_WAN = "router-wan"
# The router's interface on the side of each end.
SIDE = {CLIENT: "lan0", ROUTER: "lan0", SERVER: "wan0", ROUTER_WAN: "wan0"}
ROUTER_ENDS = (ROUTER, ROUTER_WAN)
TOKEN = 8  # bytes of each probe's token (probes.Probe)
MTU = 1500  # the lab's veths': a longer datagram leaves in fragments
SPORT = 40000
ACCEPT, DROP, USAGE = 0, 1, 2


def simulate(ruleset, *args):
    return subprocess.run([verdictctl_binary(), "simulate", "--ruleset", ruleset, *args],
                          capture_output=True, text=True, check=False)


def scenarios():
    """(name, servers, phases, ruleset) of each test of SCENARIO_TESTS that
    runs one scenario: its calls of serve and check_scenario recorded
    instead of run."""
    found = []
    for test_class in SCENARIO_TESTS:

        class Recorder(test_class):
            def serve(self, tcp=None, udp=None):
                self.served = (tcp or {}, udp or {})

            def check_scenario(self, name, phases, ruleset=None, daemon_args=()):
                found.append((name, getattr(self, "served", ({}, {})), phases, ruleset))

        for method in sorted(m for m in dir(test_class) if m.startswith("test_")):
            try:
                getattr(Recorder(method), method)()
            except AttributeError:
                pass  # a test that needs the lab itself (an interface renamed): no plain scenario
    return [s for s in found if not any(isinstance(p, Action) for p in s[2])]


def way(probe):
    """simulate's --hook, -i, -o and source address for the probe's packet
    as the router sees it."""
    src, dst = probe.src, probe.dst
    if src in ROUTER_ENDS:
        # The router's own packet leaves from the address facing the destination.
        source = ADDR[(ROUTER if SIDE[dst] == "lan0" else ROUTER_WAN, probe.family)]
        return "OUTPUT,POSTROUTING", "", SIDE[dst], source
    source = getattr(probe, "src_addr", None) or address(src, probe.family)
    if dst in ROUTER_ENDS:
        return "PREROUTING,INPUT", SIDE[src], "", source
    return "PREROUTING,FORWARD,POSTROUTING", SIDE[src], SIDE[dst], source


def network_header(family):
    return 20 if family == 4 else 40


def description(probe):
    """simulate's arguments for the probe's first packet, or None for a
    packet they cannot describe (IP options, truncated headers, fragments,
    several datagrams)."""
    if probe.src not in SIDE or probe.dst not in SIDE:
        return None
    hooks, into, out, source = way(probe)
    args = ["--hook", hooks, f"-{probe.family}", "-s", source, "-d", address(probe.dst, probe.family)]
    args += ["-i", into] if into else []
    args += ["-o", out] if out else []
    icmp = "icmp" if probe.family == 4 else "ipv6-icmp"
    ip = network_header(probe.family)
    if isinstance(probe, Tcp):
        return args + ["-p", "tcp", "--sport", str(SPORT), "--dport", str(probe.port)]
    if isinstance(probe, Udp):
        length = ip + 8 + max(probe.size or 8, TOKEN)
        if probe.count > 1 or probe.options or length > MTU:
            return None  # several packets, options, or fragments
        args += ["-p", "udp", "--sport", str(SPORT), "--dport", str(probe.port),
                 "--length", str(length)]
        return args + (["--ttl", str(probe.ttl)] if probe.ttl is not None else [])
    if isinstance(probe, UdpEcho):
        return args + ["-p", "udp", "--sport", str(SPORT), "--dport", str(probe.port)]
    if isinstance(probe, Ping):
        return None if probe.count > 1 else args + ["-p", icmp, "--length", str(ip + 8 + 56)]
    if isinstance(probe, RawTcp):
        return args + ["-p", "tcp", "--sport", str(SPORT), "--dport", str(probe.port),
                       "--tcp-flags", probe.flags or "NONE", "--length", str(ip + 20 + TOKEN)]
    if isinstance(probe, RawIcmp):
        return args + ["-p", icmp, "--icmp-type", f"{probe.kind}/{probe.code}",
                       "--length", str(ip + 8 + 4 * TOKEN)]
    if isinstance(probe, RawProto):
        if probe.proto in (1, 6, 17, 58, 132, 136):
            return None  # a truncated transport header, which simulate does not build
        return args + ["-p", str(probe.proto), "--length", str(ip + probe.size)]
    return None


def reverse(args):
    """The arguments of the ICMP error that the probe's destination sends
    back: the same packet described, RELATED, along the way back."""
    hooks, into, out = None, "", ""
    rest = []
    i = 0
    while i < len(args):
        flag, value = args[i], args[i + 1] if i + 1 < len(args) else None
        if flag == "--hook":
            hooks, i = value, i + 2
        elif flag == "-i":
            into, i = value, i + 2
        elif flag == "-o":
            out, i = value, i + 2
        else:
            rest.append(flag)
            i += 1
    back = {"PREROUTING": "POSTROUTING", "INPUT": "OUTPUT", "FORWARD": "FORWARD",
            "OUTPUT": "INPUT", "POSTROUTING": "PREROUTING"}
    hooks = ",".join(back[h] for h in reversed(hooks.split(",")))
    return ["--hook", hooks] + (["-i", out] if out else []) + (["-o", into] if into else []) + \
        rest + ["--ctstate", "RELATED"]


class Simulated:
    """What simulate says of one probe: its predicted outcome and the
    records of every packet it simulated."""

    def __init__(self, ruleset, probe, args, served):
        self.records = []
        first = self.run(ruleset, args)
        rejected = not first[1] and self.rejected(first[0])
        if isinstance(probe, Tcp):
            if not first[1]:
                self.outcome = "refused" if rejected else "timeout"
                return
            records, accepted = self.run(ruleset, args + ["--connection"])
            # The answer is a SYN-ACK when the port is served, else an RST:
            # both replies, which go back the same way.
            answered = accepted or not any(r["packet"].get("tcp_flags") == "SYN,ACK"
                                           and r["verdict"] == "DROP" for r in records)
            if not answered:
                self.outcome = "timeout"
            else:
                self.outcome = "open" if probe.port in served[0] else "refused"
        elif isinstance(probe, Udp):
            if not first[1]:
                self.outcome = "refused" if rejected else "lost"
            elif probe.port in served[1]:
                self.outcome = "received"
            else:
                self.outcome = "refused" if self.run(ruleset, reverse(args))[1] else "lost"
        elif isinstance(probe, UdpEcho):
            if not first[1]:
                self.outcome = "refused" if rejected else "lost"
            elif probe.closed:
                self.outcome = "refused" if self.run(ruleset, reverse(args))[1] else "lost"
            else:
                answered = self.run(ruleset, args + ["--connection"])[1]
                self.outcome = "answered" if answered else "lost"
        elif isinstance(probe, Ping):
            self.outcome = "reply" if self.run(ruleset, args + ["--connection"])[1] else "none"
        else:
            self.outcome = "delivered" if first[1] else "dropped"

    def run(self, ruleset, args):
        result = simulate(ruleset, "--json", *args)
        if result.returncode not in (ACCEPT, DROP):
            raise AssertionError(f"simulate {' '.join(args)}: exit {result.returncode}: "
                                 f"{result.stderr}")
        records = [json.loads(line) for line in result.stdout.splitlines()][:-1]
        self.records += records
        return records, result.returncode == ACCEPT

    @staticmethod
    def rejected(records):
        last = records[-1]["steps"][-1] if records and records[-1]["steps"] else {}
        return last.get("action", "").startswith("REJECT")

    def counted_rules(self, comments):
        """(table, chain, comment) of every commented rule and policy the
        simulated packets met."""
        met = set()
        for record in self.records:
            for step in record["steps"]:
                if step["kind"] == "rule" and "comment" in step:
                    met.add((step["table"], step["chain"], step["comment"]))
                elif step["kind"] == "policy" and (step["table"], step["chain"]) in comments:
                    met.add((step["table"], step["chain"], "policy"))
        return met


class SimulateAgreesWithTheDaemon(LabTestCase):

    def test_every_filtering_scenario(self):
        agreed, compared, skipped = 0, 0, 0
        for name, served, phases, ruleset in scenarios():
            path = ruleset or ruleset_path(name)
            with open(path, encoding="utf-8") as f:
                tables = list(json.load(f)["tables"])
            with self.subTest(scenario=name):
                daemon = self.start_verdictd(path)
                tcp, udp = served
                self.serve(tcp=tcp, udp=udp)
                live = {}
                for phase in phases:
                    live.update(self.probe([p for p, _ in phase]))
                counters = {}
                for table in tables:
                    listing = daemon.ctl("list", "-t", table, "-v", "-x").stdout
                    listing_counters(listing, table, counters)
                self.daemons.remove(daemon)
                daemon.stop()
                differences = []
                for phase in phases:
                    for probe, _ in phase:
                        args = description(probe)
                        if args is None:
                            skipped += 1
                            continue
                        where = _ns_of(probe.dst)
                        sim = Simulated(path, probe, args,
                                        (tcp.get(where, []), udp.get(where, [])))
                        compared += 1
                        if sim.outcome != live[str(probe)]:
                            differences.append(f"  {probe}: verdictd {live[str(probe)]}, "
                                               f"simulate {sim.outcome} ({' '.join(args)})")
                            continue
                        agreed += 1
                        uncounted = [m for m in sim.counted_rules(counters)
                                     if counters.get(m, [0])[0] == 0]
                        if uncounted:
                            differences.append(f"  {probe}: simulate matched {uncounted}, "
                                               "which counted nothing in verdictd")
                self.assertFalse(differences, f"scenario {name}:\n" + "\n".join(differences))
        print(f"\nsimulate agrees with verdictd on {agreed}/{compared} probes "
              f"({skipped} probes simulate cannot describe)")
        self.assertGreater(compared, 100)


CHAINS = ruleset_path("chains")


class SimulateCommandLine(unittest.TestCase):

    def forwarded(self, *args):
        return simulate(CHAINS, "--hook", "PREROUTING,FORWARD,POSTROUTING", "-i", "lan0",
                        "-o", "wan0", "-s", "10.1.0.2", "-d", "10.2.0.2", *args)

    def test_the_exit_status_is_the_verdict(self):
        accepted = self.forwarded("-p", "tcp", "--dport", "8084")
        self.assertEqual(accepted.returncode, ACCEPT, accepted.stderr)
        self.assertIn('filter FORWARD rule 4 "reached after the end of tcp_more (entered by goto)" '
                      f"{CHAINS}:12:11 ACCEPT -> accept", accepted.stdout)
        self.assertTrue(accepted.stdout.endswith("final verdict ACCEPT\n"))
        dropped = self.forwarded("-p", "udp", "--dport", "9004")
        self.assertEqual(dropped.returncode, DROP, dropped.stderr)
        self.assertIn(f"filter FORWARD policy {CHAINS}:6:18 -> drop", dropped.stdout)

    def test_usage_and_ruleset_errors_exit_2(self):
        for args in (["-p", "bogus"], ["-p", "udp", "--tcp-flags", "SYN"],
                     ["-p", "tcp", "--tcp-flags", "SYN,MAYBE"], ["-p", "tcp", "-6"],
                     ["-p", "tcp", "--ctstate", "OLD"]):
            result = self.forwarded(*args)
            self.assertEqual(result.returncode, USAGE, f"{args}: {result.stdout}")
            self.assertIn("verdictctl simulate: ", result.stderr)
        sideways = simulate(CHAINS, "--hook", "SIDEWAYS", "-p", "tcp")
        self.assertEqual(sideways.returncode, USAGE)
        self.assertIn("unknown hook 'SIDEWAYS'", sideways.stderr)
        # A state the tracker does not give the packet is refused, not faked.
        states = ruleset_path("ct_states")
        invalid = simulate(states, "--hook", "INPUT", "-i", "lan0", "-p", "udp", "--ctstate",
                           "INVALID")
        self.assertEqual(invalid.returncode, USAGE, invalid.stdout)
        self.assertIn("the tracker makes this packet NEW, not INVALID", invalid.stderr)
        self.assertEqual(simulate(states, "--hook", "INPUT", "-i", "lan0", "-p", "tcp", "--ctstate",
                                  "INVALID").returncode, ACCEPT)
        no_hook = simulate(CHAINS, "-p", "tcp")
        self.assertEqual(no_hook.returncode, USAGE, no_hook.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as bad:
            bad.write('{"tables": {"filter": {"INPUT": {"policy": "MAYBE"}}}}')
            bad.flush()
            result = simulate(bad.name, "--hook", "INPUT", "-p", "tcp")
            self.assertEqual(result.returncode, USAGE)
            self.assertIn(bad.name, result.stderr)
        missing = simulate("/nonexistent/ruleset.json", "--hook", "INPUT", "-p", "tcp")
        self.assertEqual(missing.returncode, USAGE)

    def test_json_is_one_record_per_hook(self):
        result = self.forwarded("-p", "tcp", "--dport", "8081", "--json")
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        self.assertEqual([r.get("hook") for r in lines[:-1]],
                         ["PREROUTING", "FORWARD", "POSTROUTING"])
        self.assertEqual(lines[-1], {"final_verdict": "ACCEPT"})
        forward = [s for s in lines[1]["steps"] if s["table"] == "filter"]
        self.assertEqual([(s["chain"], s["kind"], s.get("rule"), s["outcome"]) for s in forward],
                         [("FORWARD", "rule", 2, "jump"), ("tcp_in", "rule", 2, "return"),
                          ("FORWARD", "rule", 3, "accept")])

    def test_dnat_shows_the_rewrite(self):
        result = simulate(ruleset_path("nat_port_forward"), "--hook",
                          "PREROUTING,FORWARD,POSTROUTING", "-i", "lan0", "-o", "wan0", "-p", "tcp",
                          "-s", "10.1.0.2", "-d", "10.1.0.1", "--dport", "8080", "--connection")
        self.assertEqual(result.returncode, ACCEPT, result.stdout + result.stderr)
        self.assertIn("nat translated -> continue, destination 10.1.0.1 -> 10.2.0.2, "
                      "dport 8080 -> 80", result.stdout)
        # The server's answer is translated back to the address the client asked.
        self.assertIn("source 10.2.0.2 -> 10.1.0.1, sport 80 -> 8080", result.stdout)


if __name__ == "__main__":
    unittest.main()
