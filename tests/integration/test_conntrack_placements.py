"""Stateful rules in every placement, on complete exchanges, with the kernel
as the oracle (issue 8).

A host firewall reading ctstate on INPUT only let connect() through verdictd
but dropped all data: only INPUT was steered, verdictd never saw the router's
SYN-ACK leave through OUTPUT, and judged the client's ACK and data INVALID.
The TCP probes then counted a connection as open after the handshake, so no
test noticed. Here every placement of the stateful rules carries every kind
of traffic through whole exchanges.

Placements (tests/rulesets/ct_place_*.json; a placement of several files has
their chains joined, rules in file order):
  input-only         the host firewall on filter INPUT
  output-only        an egress firewall on filter OUTPUT, no loopback exception
  forward-only       a gateway on filter FORWARD
  input-output       the host and the egress firewall together
  mangle-prerouting  the stateful rules in mangle PREROUTING
  raw-notrack        port 5353 NOTRACK in raw PREROUTING and OUTPUT, accepted
                     as UNTRACKED beside the host firewall and the gateway
Traffic kinds, each over IPv4 and IPv6:
  inbound    client -> router (its lan address)
  outbound   router -> server
  forwarded  client -> server
  loopback   router -> 127.0.0.1 / ::1
  self       router -> its own lan address (over lo)
Exchanges of each kind and family, all at once in two phases:
  phase 1  TCP to 8080, 1000 bytes each way (echoed), ended by the client's
           reset (SO_LINGER 0), which the server must see; the same to 8082,
           a port the rules do not list; a UDP request and its answer (5300);
           UDP to the closed 5309, refused by the ICMP error; ping; and under
           raw-notrack the TCP and UDP exchanges again on the untracked 5353.
  phase 2  TCP to 8080, 300 kB each way echoed while being sent (many
           segments, several windows), closed by FIN both ways.
An exchange counts as complete only when data went both ways: "reset",
"closed", "answered", "refused" (the error came back), "reply". All complete
in the kernel except 8082 where the placement's rules see the new
connection ("timeout"; a blocked connect is abandoned after one SYN).

Each placement runs twice in the kernel (its ruleset exported to
iptables-legacy), then once under verdictd, and compares verdictd with the
kernel:
  outcomes  every exchange's result;
  bytes     the length and SHA-256 of what the client and the server of
            each TCP exchange received;
  counters  every rule's and policy's packets and bytes after each phase
            (`iptables-legacy -L -v -x -n` of both families added up, against
            `verdictctl list -v -x`; rules are told apart by their comments);
  ctstate   the state of every packet: count-only rules, one per state, first
            in each chain the placement uses. No other chain gets them: which
            hooks carry rules decides verdictd's steering, and a counting
            chain elsewhere would hide exactly this kind of bug.
and requires verdictd's `status` to report divergences=0 (the field must be
there).

Determinism. The lab's links run without segmentation offloads, so every
TCP segment is one packet, and phase 1 is deterministic: each of its
exchanges is a fixed sequence of packets (1000 bytes are one segment each
way, acknowledged at once in quick-ack mode; a blocked connect sends one
SYN; a stream left unfinished is reset, so no orphaned socket retransmits
into a later run), and it is over before the counters are read. Its
counters are compared exactly, and the two kernel runs must agree on them
(they did in 4 runs of every placement). Phase 2 is not: how many segments
and ACKs 300 kB make depends on timing (delayed and quick ACKs, window
updates, where the echo server's reads happened to end a segment). In 4
kernel runs of every placement its counts of data segments and ACKs spread
by up to 30% (the router's own sends, on OUTPUT), most by 1-10%. So in
phase 2 a counter that counts no data segments (the SYNs as NEW, every
RELATED, INVALID and UNTRACKED count, the drops and the policies of chains
bulk data does not reach) must equal one of the kernel runs' counts (the
kernel itself, in a few full runs, once counted two small packets INVALID
in phase 2 of input-output), and one that does must lie within the kernel
runs' range widened: its bytes by BULK_SLACK, its packets by
BULK_PACKET_SLACK. A queue trip changes the timing, and so how TCP cuts the
same bytes into segments and how often it acknowledges them: through
verdictd the router's bulk sends at OUTPUT once took 476 packets where two
kernel runs took 292 and 310, for the same bytes within 1%. A verdictd that
drops bulk data still fails there, and always on the INVALID counts.
"""

import collections
import json
import os
import sys
import time
import unittest

from ct_probes import UdpEcho
from lab import CLIENT, ROUTER, SERVER
from oracle import LabTestCase, conntrack_status, listing_counters, ruleset_path
from probes import Ping, TcpExchange

C, R, S = CLIENT, ROUTER, SERVER

WEB, UNLISTED, ECHO, CLOSED, UNTRACKED_PORT = 8080, 8082, 5300, 5309, 5353
SMALL = 1000       # bytes each way of a phase-1 exchange: one segment
BULK = 300_000     # bytes each way of a phase-2 transfer
GIVE_UP = 0.8      # s: a blocked connect is abandoned before its SYN is sent again
EXCHANGE_TIMEOUT = 2.0
BULK_TIMEOUT = 6.0
SETTLE = 0.3       # s after a phase before the counters are read
BULK_SLACK = 0.5          # phase-2 bytes of bulk segments: within half again of the kernel's range
BULK_PACKET_SLACK = 1.0   # their packets: within twice the kernel's range

STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED")

# Kind: (source, destination) of its exchanges.
KINDS = {"inbound": (C, R), "outbound": (R, S), "forwarded": (C, S),
         "loopback": (R, "router-lo"), "self": (R, R)}

Placement = collections.namedtuple("Placement", "name rulesets blocks untracked",
                                   defaults=(False,))

# blocks: the kinds whose new connections to UNLISTED the placement's rules see.
PLACEMENTS = [
    Placement("input-only", ["ct_place_input"], {"inbound"}),
    Placement("output-only", ["ct_place_output"], {"outbound", "loopback", "self"}),
    Placement("forward-only", ["ct_place_forward"], {"forwarded"}),
    Placement("input-output", ["ct_place_input", "ct_place_output"],
              {"inbound", "outbound", "loopback", "self"}),
    Placement("mangle-prerouting", ["ct_place_mangle"],
              {"inbound", "forwarded", "loopback", "self"}),
    Placement("raw-notrack", ["ct_place_notrack", "ct_place_input", "ct_place_forward"],
              {"inbound", "forwarded"}, untracked=True),
]


def joined_tables(names):
    """The tables of several rulesets, chain by chain: rules in file order,
    the policy whichever file gives (they must not disagree)."""
    tables = {}
    for name in names:
        with open(ruleset_path(name)) as f:
            for table, chains in json.load(f)["tables"].items():
                for chain, body in chains.items():
                    joined = tables.setdefault(table, {}).setdefault(chain, {"rules": []})
                    if "policy" in body:
                        if joined.setdefault("policy", body["policy"]) != body["policy"]:
                            raise ValueError(f"{name}: {table} {chain}: policies disagree")
                    joined["rules"] += body.get("rules", [])
    return tables


def counted_ruleset(placement):
    """The placement's ruleset with a count-only rule per state first in
    each of its chains, and every rule named by a comment of its own."""
    tables = joined_tables(placement.rulesets)
    for chains in tables.values():
        for body in chains.values():
            own = [dict(rule, comment=f"rule {i + 1} {rule.get('comment', '')}".rstrip())
                   for i, rule in enumerate(body["rules"])]
            body["rules"] = [{"comment": f"ctstate {state}", "match": {"ctstate": state}}
                             for state in STATES] + own
    return {"comment": f"placement {placement.name}, counted", "tables": tables}


def exchanges(placement):
    """[(probe, expected outcome)] of phase 1 and of phase 2."""
    first, second = [], []
    for kind, (src, dst) in KINDS.items():
        for family in (4, 6):
            blocked = kind in placement.blocks
            first += [
                (TcpExchange(src, dst, WEB, family, SMALL, "reset", give_up=GIVE_UP), "reset"),
                (TcpExchange(src, dst, UNLISTED, family, SMALL, "reset", give_up=GIVE_UP),
                 "timeout" if blocked else "reset"),
                (UdpEcho(src, dst, ECHO, family), "answered"),
                (UdpEcho(src, dst, CLOSED, family, closed=True), "refused"),
                (Ping(src, dst, family), "reply"),
            ]
            if placement.untracked:
                first += [
                    (TcpExchange(src, dst, UNTRACKED_PORT, family, SMALL, "reset",
                                 give_up=GIVE_UP), "reset"),
                    (UdpEcho(src, dst, UNTRACKED_PORT, family), "answered"),
                ]
            second.append((TcpExchange(src, dst, WEB, family, BULK, "fin", give_up=GIVE_UP),
                           "closed"))
    return first, second


Run = collections.namedtuple("Run", "outcomes transcripts counters seconds")


class Tally:
    """Agreements and comparisons by what was compared."""

    KINDS = ("outcomes", "bytes", "counters", "ctstate")

    def __init__(self):
        self.agree = collections.Counter()
        self.total = collections.Counter()

    def add(self, kind, agrees):
        self.total[kind] += 1
        self.agree[kind] += bool(agrees)

    def update(self, other):
        self.agree.update(other.agree)
        self.total.update(other.total)

    def __str__(self):
        return ", ".join(f"{k} {self.agree[k]}/{self.total[k]}" for k in self.KINDS)


def counter_kind(key):
    return "ctstate" if key[2].startswith("ctstate ") else "counters"


def within(value, kernels, phase, transfers):
    """verdictd's (packets, bytes) against the kernel runs' in one phase:
    equal to them in phase 1 (where they agree), in phase 2 equal to one of
    them when they count no bulk segments, else in their range widened by
    BULK_PACKET_SLACK (packets) and BULK_SLACK (bytes). In phase 2 a chain
    sees at most one packet per transfer that is not a data segment or an
    ACK (its SYN, as NEW), and a counter of data segments and ACKs counts
    at least 15 a transfer (over lo, whose 64 kB segments make the fewest),
    so over two a transfer tells them apart."""
    if phase == 0:
        return value == kernels[0]
    if max(k[0] for k in kernels) <= 2 * transfers:
        return value in kernels
    for i, slack in ((0, BULK_PACKET_SLACK), (1, BULK_SLACK)):
        low = min(k[i] for k in kernels) * max(0.0, 1 - slack)
        high = max(k[i] for k in kernels) * (1 + slack)
        if not low <= value[i] <= high:
            return False
    return True


class PlacementsTest(LabTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lab.offloads_off()
        for where in (R, S):
            # Every port unreachable is sent, however fast they come.
            cls.lab.ns[where].sysctl({"net.ipv4.icmp_ratelimit": 0, "net.ipv6.icmp.ratelimit": 0})

    def run_once(self, side, tables, phases, evidence):
        """One run of both phases; the counters of phase 2 are what it added.
        Under verdictd, what `status`, `conntrack` and `list` show goes into
        `evidence`."""
        began = time.monotonic()

        def read():
            counters = {}
            for table in tables:
                for listing in side.listings(table, "-v", "-x", "-n"):
                    listing_counters(listing, table, counters)
            return counters

        outcomes, transcripts, counters = {}, {}, []
        for pairs, timeout in zip(phases, (EXCHANGE_TIMEOUT, BULK_TIMEOUT)):
            probes = [p for p, _ in pairs]
            outcomes.update(self.probe(probes, timeout))
            transcripts.update({str(p): p.transcript for p in probes
                                if hasattr(p, "transcript")})
            time.sleep(SETTLE)
            counters.append(read())
        if side.daemon:
            evidence.update(status=conntrack_status(side.daemon),
                            flows=side.daemon.ctl("conntrack").stdout,
                            listing="\n".join(side.daemon.ctl("list", "-t", t, "-v", "-x",
                                                               "-n").stdout for t in tables),
                            log=side.daemon.read_log)
        keys = [k for k in counters[0] if k[1] in tables[k[0]]]
        phased = [{k: tuple(counters[0][k]) for k in keys},
                  {k: tuple(b - a for a, b in zip(counters[0][k], counters[1][k])) for k in keys}]
        return Run(outcomes, transcripts, phased, time.monotonic() - began)

    def check_placement(self, placement):
        path = os.path.join(self.lab.tmp, f"placement-{placement.name}.json")
        ruleset = counted_ruleset(placement)
        with open(path, "w") as f:
            json.dump(ruleset, f, indent=1)
        tables = {t: set(chains) for t, chains in ruleset["tables"].items()}
        phases = exchanges(placement)
        evidence, checked = {}, []

        def compare(results):
            *kernel, ours = results
            checked.append(self.compare(placement, phases, kernel, ours, evidence))

        self.against_the_kernel(path, lambda side: self.run_once(side, tables, phases, evidence),
                                modes=("kernel", "kernel", "verdictd"), compare=compare)
        return checked[0]

    def compare(self, placement, phases, kernel, ours, evidence):
        tally, problems, premise = Tally(), [], []
        for probe, want in phases[0] + phases[1]:
            name = str(probe)
            got = [run.outcomes[name] for run in kernel]
            if got != [want, want]:
                premise.append(f"  {name}: expected {want}, kernel {got}")
            tally.add("outcomes", ours.outcomes[name] == got[0])
            if ours.outcomes[name] != got[0]:
                problems.append(f"  {name}: kernel {got[0]}, verdictd {ours.outcomes[name]}")
            if name in ours.transcripts:
                seen = [run.transcripts[name] for run in kernel]
                if seen[0] != seen[1]:
                    premise.append(f"  {name}: the kernel runs received {seen}")
                tally.add("bytes", ours.transcripts[name] == seen[0])
                if ours.transcripts[name] != seen[0]:
                    problems.append(f"  {name}: received kernel {seen[0]}, "
                                    f"verdictd {ours.transcripts[name]}")
        for phase in (0, 1):
            for key, value in sorted(kernel[0].counters[phase].items()):
                values = [run.counters[phase][key] for run in kernel]
                label = f"phase {phase + 1} {' '.join(key)}"
                if phase == 0 and values[0] != values[1]:
                    premise.append(f"  {label}: the kernel runs counted {values}")
                mine = ours.counters[phase].get(key)
                agrees = mine is not None and within(mine, values, phase, len(phases[1]))
                tally.add(counter_kind(key), agrees)
                if not agrees:
                    problems.append(f"  {label}: kernel {' '.join(map(str, values))}, "
                                    f"verdictd {mine}")
        status = evidence["status"]
        divergences = status.get("divergences", "missing")
        print(f"placement {placement.name}: {tally}; divergences={divergences}; "
              f"kernel {kernel[0].seconds:.1f}+{kernel[1].seconds:.1f} s, "
              f"verdictd {ours.seconds:.1f} s", file=sys.stderr)
        failures = []
        if premise:
            failures.append("the kernel runs differ from the expectation or from each "
                            "other:\n" + "\n".join(premise))
        if problems:
            failures.append("verdictd differs from the kernel:\n" + "\n".join(problems))
        if divergences != 0:
            failures.append(f"verdictctl status: divergences={divergences} in {status}")
        if failures:
            failures.append(f"verdictd log (end):\n{evidence['log']()[-3000:]}\n"
                            f"verdictctl list -v -x:\n{evidence['listing']}\n"
                            f"verdictctl conntrack:\n{evidence['flows']}")
        return tally, failures

    def test_every_placement_carries_every_exchange_like_the_kernel(self):
        began = time.monotonic()
        total = Tally()
        ports = [WEB, UNLISTED, UNTRACKED_PORT]
        self.serve(tcp={R: ports, S: ports})
        for placement in PLACEMENTS:
            with self.subTest(placement=placement.name):
                tally, failures = self.check_placement(placement)
                total.update(tally)
                if failures:
                    self.fail(f"placement {placement.name}:\n" + "\n".join(failures))
        print(f"all placements: {total}; {time.monotonic() - began:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
