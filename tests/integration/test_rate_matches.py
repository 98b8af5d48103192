"""Rate and recent-list matches on real forwarded traffic, under the kernel
and under verdictd (rate_matches.json), the kernel as the oracle:

ssh        the brute-force rule (recent --set, then --update --seconds 60
           --hitcount 5 on NEW tcp/22): of seven connection attempts the
           5th, 6th and 7th are dropped, under both, and the list's line is
           the kernel's /proc/net/xt_recent/SSH line up to its jiffies.
knocking   three recent lists: tcp/2222 opens only after knocks on udp/1001,
           1002, 1003 in that order; the same outcomes under both, and
           `verdictctl recent add/del/flush` does what a write to
           /proc/net/xt_recent/KNOCK3 does.
syn flood  20 SYNs to tcp/80 at once through limit 10/second burst 5: the
           rule counters of both agree within TOLERANCE packets (the refill
           during the burst depends on where it falls between jiffies).
hashlimit  six datagrams from each of three sources to udp/5003 through
           hashlimit upto 1/minute burst 3 per source: three of each pass;
           six to udp/5004 through hashlimit above 2/second burst 2 per
           source /24 and port: four dropped; counters within TOLERANCE.
quota      ten 228-byte datagrams to udp/5005 through quota 1000: four
           pass, then the quota is spent; the negated quota 500 of the next
           rule matches once its own two have fitted: the same counters.
listing    `verdictctl list` and export print the rules as iptables-legacy
           -L -n and iptables-legacy-save do.
reload     a limit's bucket (1/minute burst 3) and a recent list survive
           `verdictctl reload` of the same file.
"""

# ctest labels: matches

import socket
import sys
import time
import unittest

from lab import ADDR, CLIENT, EXTRA_CLIENT_V4, ROUTER, SERVER
from oracle import LabTestCase, ruleset_path

C, R, S = CLIENT, ROUTER, SERVER

RULESET = ruleset_path("rate_matches")
CONNECT_TIMEOUT = 0.4  # below the first SYN retransmission (1 s)
SYN_FLOOD = 20
# Packets the limit may let through more or fewer under verdictd than under
# the kernel in one burst: one refill falls in or out of it by timing.
TOLERANCE = 1


def rule_packets(listing, comment):
    """Packets counted by the rule with this comment in `-L -v -x -n` text."""
    for line in listing.splitlines():
        if f"/* {comment} */" in line:
            return int(line.split()[0])
    raise AssertionError(f"no rule {comment!r} in:\n{listing}")


class RateMatchesTest(LabTestCase):

    def setUp(self):
        super().setUp()
        self.listeners = []
        for port in (22, 2222, 5002):
            kind = socket.SOCK_DGRAM if port == 5002 else socket.SOCK_STREAM
            s = self.lab.ns[S].socket(socket.AF_INET, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ADDR[(S, 4)], port))
            if kind == socket.SOCK_STREAM:
                s.listen(64)
            else:
                s.settimeout(0.5)
            self.addCleanup(s.close)
            self.listeners.append(s)

    def connects(self, port):
        """Whether a TCP connection from the client to the server's port is made."""
        s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(CONNECT_TIMEOUT)
        try:
            s.connect((ADDR[(S, 4)], port))
            return True
        except (socket.timeout, ConnectionRefusedError):
            return False
        finally:
            s.close()

    def knock(self, *ports):
        s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for port in ports:
                s.sendto(b"knock", (ADDR[(S, 4)], port))
                time.sleep(0.05)
        finally:
            s.close()

    def listing(self, side):
        if side.daemon is None:
            return self.lab.ns[R].run(["iptables-legacy", "-L", "-v", "-x", "-n"]).stdout
        return side.daemon.ctl("list", "-v", "-x", "-n", "-4").stdout

    def recent(self, side, name, change=None):
        """The list's lines; with `change` ("+ADDR", "-ADDR" or "/") first
        written to it, as /proc/net/xt_recent takes it or as verdictctl
        recent add/del/flush does."""
        if side.daemon is None:
            path = f"/proc/net/xt_recent/{name}"
            if change:
                self.lab.ns[R].run(["sh", "-c", f"echo {change} > {path}"])
            return self.lab.ns[R].run(["cat", path]).stdout
        if change:
            action = {"+": "add", "-": "del", "/": "flush"}[change[0]]
            side.daemon.ctl("recent", action, name, *([change[1:]] if change[1:] else []))
        return side.daemon.ctl("recent", "list", name).stdout

    def test_ssh_brute_force_drops_the_fifth_attempt(self):
        def body(side):
            outcomes = [self.connects(22) for _ in range(7)]
            lines = self.recent(side, "SSH").splitlines()
            counts = [rule_packets(self.listing(side), c)
                      for c in ("ssh attempt recorded", "ssh brute force")]
            print(f"{side.mode:8} attempts {outcomes}, counters {counts}, list {lines}",
                  file=sys.stderr)
            # Up to the jiffies, which differ between the two clocks.
            return outcomes, counts, [l.split(" last_seen:")[0] for l in lines]

        kernel, ours = self.against_the_kernel(RULESET, body)
        self.assertEqual(kernel[0], [True] * 4 + [False] * 3)
        self.assertEqual(ours, kernel)
        self.assertEqual(kernel[2], [f"src={ADDR[(C, 4)]} ttl: 64"])

    def test_port_knocking_with_three_lists(self):
        def body(side):
            outcomes = [self.connects(2222)]
            self.knock(1001, 1003)  # out of order: still closed
            outcomes.append(self.connects(2222))
            self.knock(1001, 1002, 1003)
            outcomes.append(self.connects(2222))
            self.recent(side, "KNOCK3", "/")
            outcomes.append(self.connects(2222))
            self.recent(side, "KNOCK3", "+" + ADDR[(C, 4)])
            outcomes.append(self.connects(2222))
            self.recent(side, "KNOCK3", "-" + ADDR[(C, 4)])
            outcomes.append(self.connects(2222))
            lists = [len(self.recent(side, name).splitlines())
                     for name in ("KNOCK1", "KNOCK2", "KNOCK3")]
            print(f"{side.mode:8} port 2222 opened {outcomes}, list sizes {lists}",
                  file=sys.stderr)
            return outcomes, lists

        kernel, ours = self.against_the_kernel(RULESET, body)
        self.assertEqual(kernel, ([False, False, True, False, True, False], [1, 1, 0]))
        self.assertEqual(ours, kernel)

    def test_syn_flood_limit(self):
        def body(side):
            sockets = []
            for _ in range(SYN_FLOOD):
                s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex((ADDR[(S, 4)], 80))
                sockets.append(s)
            time.sleep(0.3)
            for s in sockets:
                s.close()
            listing = self.listing(side)
            counts = [rule_packets(listing, c) for c in ("syn flood limit", "syn flood")]
            print(f"{side.mode:8} {SYN_FLOOD} SYNs at once: passed {counts[0]}, "
                  f"dropped {counts[1]} (tolerance {TOLERANCE})", file=sys.stderr)
            return counts

        kernel, ours = self.against_the_kernel(RULESET, body)
        self.assertEqual(sum(kernel), SYN_FLOOD)
        self.assertEqual(sum(ours), SYN_FLOOD)
        self.assertGreaterEqual(kernel[0], 5)
        self.assertLessEqual(abs(ours[0] - kernel[0]), TOLERANCE)

    def test_hashlimit_per_source(self):
        def body(side):
            for source in EXTRA_CLIENT_V4[:3]:
                s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    s.bind((source, 0))
                    for port in (5003, 5004):
                        for _ in range(6):
                            s.sendto(b"x", (ADDR[(S, 4)], port))
                finally:
                    s.close()
            time.sleep(0.3)
            listing = self.listing(side)
            counts = [rule_packets(listing, c) for c in
                      ("per source", "source over its rate", "flood per source and port")]
            print(f"{side.mode:8} 3 sources x 6: passed {counts[0]}, dropped {counts[1]}; "
                  f"above: dropped {counts[2]} of 18 (tolerance {TOLERANCE})", file=sys.stderr)
            return counts

        kernel, ours = self.against_the_kernel(RULESET, body)
        self.assertEqual(kernel[:2], [9, 9])
        self.assertEqual(ours[:2], kernel[:2])
        # One /24, one port: the three sources share a bucket of 2.
        self.assertEqual(kernel[2], 16)
        self.assertLessEqual(abs(ours[2] - kernel[2]), TOLERANCE)

    def test_quota(self):
        def body(side):
            s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                for _ in range(10):
                    s.sendto(b"q" * 200, (ADDR[(S, 4)], 5005))
            finally:
                s.close()
            time.sleep(0.3)
            listing = self.listing(side)
            counts = [rule_packets(listing, c) for c in ("within quota", "over quota")]
            print(f"{side.mode:8} 10 x 228 bytes: within quota {counts[0]}, "
                  f"over quota {counts[1]}", file=sys.stderr)
            return counts

        kernel, ours = self.against_the_kernel(RULESET, body)
        self.assertEqual(kernel, [4, 4])
        self.assertEqual(ours, kernel)

    def test_listing_and_save_are_the_kernels(self):
        def body(side):
            self.knock(1002)  # a packet through the rules, as the oracle loop wants
            if side.daemon is None:
                listing = self.lab.ns[R].run(["iptables-legacy", "-L", "-n"]).stdout
                saved = self.lab.ns[R].run(["iptables-legacy-save"]).stdout
            else:
                listing = side.daemon.ctl("list", "-n", "-4").stdout
                saved = self.lab.ctl("export", "-4", RULESET).stdout
            return ([l.rstrip() for l in listing.splitlines()],
                    [l for l in saved.splitlines() if l.startswith("-A ")])

        kernel, ours = self.against_the_kernel(RULESET, body)
        self.maxDiff = None
        self.assertEqual(ours, kernel)

    def test_limit_bucket_and_recent_list_survive_a_reload(self):
        daemon = self.start_verdictd(RULESET)
        sender = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sender.close)

        def passed(count):
            received = 0
            for _ in range(count):
                sender.sendto(b"x", (ADDR[(S, 4)], 5002))
            try:
                for _ in range(count):
                    self.listeners[2].recv(16)
                    received += 1
            except socket.timeout:
                pass
            return received

        self.assertEqual(passed(5), 3)
        self.connects(22)
        before = daemon.ctl("recent", "list", "SSH").stdout
        self.assertEqual(len(before.splitlines()), 1)
        daemon.ctl("reload")
        # A fresh bucket would let 3 more through.
        self.assertEqual(passed(5), 0)
        self.assertEqual(daemon.ctl("recent", "list", "SSH").stdout, before)
        self.assertIn("no rule uses a recent list",
                      daemon.ctl("recent", "list", "NOPE", check=False).stderr)


if __name__ == "__main__":
    unittest.main()
