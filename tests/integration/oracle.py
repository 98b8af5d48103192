"""The kernel-oracle harness. Every oracle test runs the one loop here,
LabTestCase.against_the_kernel: the same ruleset and the same traffic, in a
fresh state of the same lab (empty tables, empty conntrack table), once

  kernel    the ruleset exported with `verdictctl export -4/-6` and loaded
            into the router's kernel with iptables-legacy-restore;
  verdictd  the kernel's tables empty, verdictd in the router enforcing the
            same JSON file;

then compares. A difference between them is a verdictd bug (or an export
bug) to report, not to paper over. Under verdictd, the kernel's conntrack
(which still tracks) must end up agreeing with verdictd's tracker on every
connection the queues saw: `verdictctl status` shows divergences=0.

A scenario (check_scenario) is a ruleset plus traffic probes with expected
outcomes: both runs must give them, so they agree with each other.
"""

import os
import re
import sys
import time
import unittest

from lab import ROUTER, RULESETS, Lab
from probes import PHASE_TIMEOUT, Servers, run_probes


def queue_packets(status_text):
    """{queue number: (hook, packets)} from `verdictctl status`."""
    queues, inside = {}, False
    for line in status_text.splitlines():
        fields = line.split()
        if fields[:2] == ["queue", "hook"]:
            inside = True
        elif inside and fields and fields[0].isdigit():
            queues[int(fields[0])] = (fields[1], int(fields[2]))
    return queues


def conntrack_counts(status_text):
    """{name: count} of the `conntrack` line of `verdictctl status`."""
    line = next(l for l in status_text.splitlines() if l.startswith("conntrack "))
    return {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", line)}


# verdictd counts a disagreement with the kernel's conntrack once it has lasted
# a second (its grace), at its next maintenance round, a second later at most.
DIVERGENCE_SETTLE = 2.5


def conntrack_status(daemon):
    """{name: count} of the conntrack line of a running verdictd's status."""
    return conntrack_counts(daemon.ctl("status").stdout)


_POLICY = re.compile(r"\(policy \w+ (\d+) packets, (\d+) bytes\)")
_COMMENT = re.compile(r"/\* (.*?) \*/")


def listing_counters(listing, table, into):
    """Adds the counters of an `iptables -L -v -x -n` listing (or `verdictctl
    list -v -x`) to `into`, as {(table, chain, rule comment): [packets,
    bytes]}, with "policy" for a built-in chain's policy. Rules are told
    apart by their comments; rules without one are left out. Listings of
    both families add up, as verdictd counts a rule once for both."""
    chain = None
    for line in listing.splitlines():
        if line.startswith("Chain "):
            chain = line.split()[1]
            policy = _POLICY.search(line)
            if policy:
                counts = into.setdefault((table, chain, "policy"), [0, 0])
                counts[0] += int(policy.group(1))
                counts[1] += int(policy.group(2))
            continue
        fields = line.split()
        comment = _COMMENT.search(line)
        if chain and comment and fields and fields[0].isdigit():
            counts = into.setdefault((table, chain, comment.group(1)), [0, 0])
            counts[0] += int(fields[0])
            counts[1] += int(fields[1])
    return into


class Action:
    """A change to the lab between two phases of probes, with its undo."""

    def __init__(self, description, do, undo):
        self.description, self.do, self.undo = description, do, undo


def ruleset_path(name):
    return os.path.join(RULESETS, name + ".json")


MODES = ("kernel", "verdictd")


class Side:
    """What enforces the ruleset in one run of the oracle loop: the router's
    kernel (mode "kernel", daemon None) or a verdictd (mode "verdictd")."""

    def __init__(self, lab, mode, daemon):
        self.lab, self.mode, self.daemon = lab, mode, daemon

    def listings(self, table, *flags):
        """The table's listing with `iptables -L` flags: the kernel's one per
        family, verdictd's one for both."""
        if self.daemon is None:
            return [self.lab.ns[ROUTER].run([tool, "-t", table, "-L", *flags]).stdout
                    for tool in ("iptables-legacy", "ip6tables-legacy")]
        return [self.daemon.ctl("list", "-t", table, *flags).stdout]


class LabTestCase(unittest.TestCase):
    """One lab per test class; each test leaves it as it found it."""

    @classmethod
    def setUpClass(cls):
        cls.lab = Lab()

    @classmethod
    def tearDownClass(cls):
        cls.lab.destroy()

    def setUp(self):
        self.daemons = []
        self.servers = None

    def tearDown(self):
        for daemon in self.daemons:
            daemon.stop()
        if self.servers:
            self.servers.close()
        self.lab.kernel_reset()

    def start_verdictd(self, ruleset=None, args=(), config=None):
        daemon = self.lab.start_verdictd(ruleset, args, config)
        self.daemons.append(daemon)
        return daemon

    def lasting_divergences(self, daemon):
        """Why verdictd's tracker and the kernel's conntrack are not in
        agreement, or "": once the last disagreements had their grace,
        `verdictctl status` must show divergences=0 (the daemon's debug lines
        name the flows). Nothing to wait for when the kernel sent no events
        (the ruleset tracks nothing)."""
        if conntrack_status(daemon)["events"] == 0:
            return ""
        time.sleep(DIVERGENCE_SETTLE)
        status = daemon.ctl("status").stdout
        if conntrack_counts(status)["divergences"] == 0:
            return ""
        named = [l for l in daemon.read_log().splitlines() if l.startswith("verdictd: debug:")]
        return "the kernel's conntrack lastingly disagreed with verdictd's tracker:\n" + \
            "\n".join(named) + f"\n{status}"

    def serve(self, tcp=None, udp=None):
        if self.servers:
            self.servers.close()
        self.servers = Servers(self.lab, tcp, udp)
        return self.servers

    def probe(self, probes, timeout=PHASE_TIMEOUT):
        return run_probes(self.lab, probes, self.servers, timeout)

    def assert_outcomes(self, expected_pairs, outcomes, context):
        wrong = [f"  {p}: expected {want}, got {outcomes[str(p)]}"
                 for p, want in expected_pairs if outcomes[str(p)] != want]
        if wrong:
            self.fail(f"{context}:\n" + "\n".join(wrong))

    def _run_phases(self, phases):
        outcomes = []
        done = []
        try:
            for step in phases:
                if isinstance(step, Action):
                    step.do()
                    done.append(step)
                else:
                    outcomes.append(self.probe([p for p, _ in step]))
        finally:
            for action in reversed(done):
                action.undo()
        return outcomes

    def against_the_kernel(self, path, body, modes=MODES, daemon_args=(), compare=None):
        """The oracle loop: body(side) once per mode of `modes`, in order,
        each from empty tables and an empty conntrack table (an entry left
        from one run would carry its state or NAT binding into the next),
        with the ruleset at `path` in the router's kernel ("kernel") or
        enforced by verdictd ("verdictd"). Returns body's results in the
        order of `modes`, after compare(results) when given. A verdictd run
        must have queued packets, exit 0, and leave no lasting divergence
        from the kernel's conntrack (checked after compare, so that a
        difference in outcomes is reported first)."""
        results, divergences = [], []
        for mode in modes:
            self.lab.kernel_reset()
            self.lab.flush_conntrack()
            daemon = None
            if mode == "kernel":
                self.lab.kernel_load(path)
            else:
                daemon = self.start_verdictd(path, daemon_args)
            try:
                results.append(body(Side(self.lab, mode, daemon)))
                if daemon:
                    queued = daemon.ctl("status").stdout
                    divergences.append(self.lasting_divergences(daemon))
            finally:
                if daemon:
                    self.daemons.remove(daemon)
                    status = daemon.stop()
                self.lab.kernel_reset()  # verdictd leaves its steering closed
            if daemon:
                self.assertTrue(any(packets for _, packets in queue_packets(queued).values()),
                                f"no packet reached verdictd:\n{queued}")
                self.assertEqual(status, 0, f"verdictd exited {status}:\n{daemon.read_log()}")
        self.lab.flush_conntrack()
        if compare:
            compare(results)
        for text in divergences:
            if text:
                self.fail(f"{os.path.basename(path)}: {text}")
        return results

    def check_scenario(self, name, phases, ruleset=None, daemon_args=()):
        """Runs the scenario's phases (lists of (probe, expected outcome), or
        Actions) under the kernel, then under verdictd; asserts both give the
        expected outcomes, and that verdictd saw no lasting divergence."""
        probe_phases = [p for p in phases if not isinstance(p, Action)]
        count = sum(len(p) for p in probe_phases)
        logs = []

        def body(side):
            if side.daemon:
                logs.append(side.daemon.read_log)
            return self._run_phases(phases)

        def compare(results):
            kernel, userspace = results
            differences = []
            for i, (pairs, k, v) in enumerate(zip(probe_phases, kernel, userspace)):
                where = f"phase {i + 1}: " if len(probe_phases) > 1 else ""
                for probe, want in pairs:
                    got_k, got_v = k[str(probe)], v[str(probe)]
                    if got_k != got_v:
                        differences.append(f"  {where}{probe}: kernel {got_k}, verdictd {got_v}")
            if differences:
                self.fail(f"scenario {name}: verdictd differs from the kernel:\n"
                          + "\n".join(differences) + f"\nverdictd log:\n{logs[0]()}")
            for i, (pairs, k) in enumerate(zip(probe_phases, kernel)):
                self.assert_outcomes(pairs, k, f"scenario {name} phase {i + 1}: kernel and "
                                     "verdictd agree, but not with the expectation")

        self.against_the_kernel(ruleset or ruleset_path(name), body, daemon_args=daemon_args,
                                compare=compare)
        print(f"scenario {name}: {count} probes, kernel == verdictd", file=sys.stderr)
