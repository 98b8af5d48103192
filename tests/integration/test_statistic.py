"""The statistic match on real forwarded traffic, under the kernel and under
verdictd (statistic_round_robin.json):

nth     the round robin of the classic load balancers, counted instead of
        NATed: 30 datagrams to 5000 sent one at a time; which of them each
        rule counted is the same sequence under both, the one xt_statistic
        gives (--packet P: the P-th datagram, from 0, is the first), and the
        listing and iptables-save text are the kernel's.
random  2000 datagrams to 5001: the 0.3 rule takes 0.3 of them and the
        negated one 0.7, within 5 standard deviations, under both.
"""

import socket
import sys
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, ruleset_path
from test_daemon import list_rows

C, R, S = CLIENT, ROUTER, SERVER

RULESET = ruleset_path("statistic_round_robin")
NTH_PORT, RANDOM_PORT = 5000, 5001
NTH_RULES = 4  # the first four rules of FORWARD: every 3 packet 0, 1, 2; ! every 4 packet 1
NTH_PACKETS = 30
RANDOM_PACKETS = 2000
BURST = 100  # datagrams in flight at once, well below the queue's length
PROBABILITY = 0.3
# 5 standard deviations of the share of 2000 draws at 0.3 (or 0.7):
# 5 * sqrt(0.3 * 0.7 / 2000) = 0.051.
TOLERANCE = 0.051


def expected_nth():
    """The datagrams (from 1) each nth rule counts, as xt_statistic counts."""
    numbers = range(1, NTH_PACKETS + 1)
    round_robin = [[n for n in numbers if (n - 1) % 3 == k] for k in range(3)]
    every_fourth_from_second = [n for n in numbers if (n - 1) % 4 == 1]
    return round_robin + [[n for n in numbers if n not in every_fourth_from_second]]


class StatisticTest(LabTestCase):

    def setUp(self):
        super().setUp()
        self.sender = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.sender.close)
        self.receivers = {}
        for port in (NTH_PORT, RANDOM_PORT):
            receiver = self.lab.ns[S].socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.addCleanup(receiver.close)
            receiver.bind((ADDR[(S, 4)], port))
            receiver.settimeout(2)
            self.receivers[port] = receiver

    def counters(self, side):
        """The FORWARD rules' packet counters (IPv4)."""
        if side.daemon is None:
            return [p for p, _ in self.lab.kernel_counters(4, "filter", "FORWARD")]
        return [p for p, _ in list_rows(
            side.daemon.ctl("list", "-v", "--line-numbers", "-4").stdout, "FORWARD")[0]]

    def send(self, port, payloads):
        """Sends the datagrams and waits until the server has them all."""
        for payload in payloads:
            self.sender.sendto(payload, (ADDR[(S, 4)], port))
        received = [self.receivers[port].recv(64) for _ in payloads]
        self.assertEqual(sorted(received), sorted(payloads))

    def listing(self, side):
        if side.daemon is None:
            return self.lab.ns[R].run(["iptables-legacy", "-L", "-v", "-n",
                                       "--line-numbers"]).stdout
        return side.daemon.ctl("list", "-v", "-n", "--line-numbers", "-4").stdout

    def test_nth_counts_the_same_datagrams_as_the_kernel(self):
        saved = []

        def body(side):
            counted = [[] for _ in range(NTH_RULES)]
            before = self.counters(side)[:NTH_RULES]
            for number in range(1, NTH_PACKETS + 1):
                self.send(NTH_PORT, [b"%d" % number])
                after = self.counters(side)[:NTH_RULES]
                for rule, (old, new) in enumerate(zip(before, after)):
                    self.assertIn(new - old, (0, 1), f"{side.mode}: rule {rule + 1}")
                    if new > old:
                        counted[rule].append(number)
                before = after
            if side.daemon is None:
                saved.append(self.lab.ns[R].run(["iptables-legacy-save"]).stdout)
            return counted, [line.rstrip() for line in self.listing(side).splitlines()]

        (kernel, kernel_listing), (ours, our_listing) = self.against_the_kernel(RULESET, body)
        for mode, sequence in (("kernel", kernel), ("verdictd", ours)):
            for rule, numbers in enumerate(sequence):
                print(f"{mode:8} rule {rule + 1}: {numbers}", file=sys.stderr)
        self.assertEqual(kernel, expected_nth())
        self.assertEqual(ours, kernel)
        self.maxDiff = None
        self.assertEqual(our_listing, kernel_listing)
        exported = self.lab.ctl("export", "-4", RULESET).stdout
        self.assertEqual([l for l in exported.splitlines() if l.startswith("-A ")],
                         [l for l in saved[0].splitlines() if l.startswith("-A ")])

    def test_random_takes_its_share_like_the_kernel(self):
        def body(side):
            for first in range(0, RANDOM_PACKETS, BURST):
                self.send(RANDOM_PORT, [b"%d" % n for n in range(first, first + BURST)])
            seen, sampled, not_sampled = self.counters(side)[NTH_RULES:NTH_RULES + 3]
            print(f"{side.mode:8} of {seen}: probability 0.3 took {sampled}, "
                  f"negated {not_sampled} (tolerance {TOLERANCE})", file=sys.stderr)
            self.assertEqual(seen, RANDOM_PACKETS)
            self.assertAlmostEqual(sampled / seen, PROBABILITY, delta=TOLERANCE, msg=side.mode)
            self.assertAlmostEqual(not_sampled / seen, 1 - PROBABILITY, delta=TOLERANCE,
                                   msg=side.mode)

        self.against_the_kernel(RULESET, body)

if __name__ == "__main__":
    unittest.main()
