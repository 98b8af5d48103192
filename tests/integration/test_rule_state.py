"""Per-rule state across a reload (daemon/ruleset/rule_state.hpp), on real
forwarded traffic through a real verdictd, reloaded with `verdictctl reload`:

statistic  two `--every 3` rules alike but for their comment count datagrams;
           the ruleset is reloaded with a new rule in front and the second
           rule's comment changed. The unchanged rule keeps its phase and its
           counters (it counts the 4th datagram overall); the changed one
           starts again (it counts the first datagram after the reload).
connlimit  two connections held open to 2227 under an "above 2" limit: after
           a reload that keeps the connlimit rule (another rule changed), a
           third connection is still refused, as the rule remembers the two;
           after a reload that changes the connlimit rule, its count starts
           again from nothing and the third connection passes.
"""

import json
import os
import socket
import sys
import unittest

from lab import ADDR, CLIENT, SERVER
from oracle import LabTestCase
from test_daemon import list_rows

C, S = CLIENT, SERVER

NTH_PORT = 5000
LIMITED_PORT = 2227
CONNECT_TIMEOUT = 2.0  # a refused SYN is sent again after 1 s: two tries


def nth_rule(comment):
    return {"comment": comment,
            "match": {"protocol": "udp", "dport": NTH_PORT,
                      "statistic": {"mode": "nth", "every": 3}}}


def connlimit_rule(comment):
    return {"comment": comment,
            "match": {"protocol": "tcp", "syn": True, "dport": LIMITED_PORT,
                      "connlimit": {"above": 2}},
            "target": "DROP"}


def forward(*rules):
    return {"tables": {"filter": {"FORWARD": {"policy": "ACCEPT", "rules": list(rules)}}}}


# A rule no test traffic matches, put in front to change the ruleset.
UNRELATED = {"match": {"protocol": "udp", "dport": 9}, "target": "DROP"}


class RuleStateTest(LabTestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.lab.tmp, f"{self.id().rsplit('.', 1)[-1]}.json")

    def write(self, ruleset):
        with open(self.path, "w") as f:
            json.dump(ruleset, f)

    def reload(self, daemon, ruleset):
        self.write(ruleset)
        daemon.ctl("reload")

    def forward_counters(self, daemon):
        rows = list_rows(daemon.ctl("list", "-v", "-x", "--line-numbers", "-4").stdout,
                         "FORWARD")[0]
        return [packets for packets, _ in rows]

    def test_statistic_keeps_its_phase_for_the_unchanged_rule(self):
        sender = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sender.close)
        receiver = self.lab.ns[S].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(receiver.close)
        receiver.bind((ADDR[(S, 4)], NTH_PORT))
        receiver.settimeout(2)
        sent = 0

        def counted_by_datagram(daemon, count, first_rule):
            """Sends `count` datagrams one at a time; which of them (numbered
            from 1 across the whole test) each of the two nth rules counted."""
            nonlocal sent
            counted = [[], []]
            before = self.forward_counters(daemon)[first_rule:first_rule + 2]
            for _ in range(count):
                sent += 1
                sender.sendto(b"%d" % sent, (ADDR[(S, 4)], NTH_PORT))
                self.assertEqual(receiver.recv(64), b"%d" % sent)
                after = self.forward_counters(daemon)[first_rule:first_rule + 2]
                for rule, (old, new) in enumerate(zip(before, after)):
                    if new > old:
                        counted[rule].append(sent)
                before = after
            return counted

        self.write(forward(nth_rule("kept"), nth_rule("changed")))
        daemon = self.start_verdictd(self.path)
        before_reload = counted_by_datagram(daemon, 2, 0)
        self.reload(daemon, forward(UNRELATED, nth_rule("kept"), nth_rule("changed again")))
        counters = self.forward_counters(daemon)
        after_reload = counted_by_datagram(daemon, 6, 1)
        print(f"statistic: before the reload {before_reload}, after {after_reload}; "
              f"counters just after the reload {counters}", file=sys.stderr)
        self.assertEqual(before_reload, [[1], [1]])
        self.assertEqual(counters, [0, 1, 0])  # the kept rule's count came along
        # Datagrams 3 to 8: the kept rule goes on with 4 and 7; the changed
        # one starts again at 3, the first it sees.
        self.assertEqual(after_reload, [[4, 7], [3, 6]])

    def connects(self):
        """True when a new connection from the client to 2227 completes; it
        is then held open to the end of the test. A refused one is closed at
        once, so that its kernel sends no more SYNs: a late one would be
        counted as a connection by the rule after a reload."""
        client = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(CONNECT_TIMEOUT)
        try:
            client.connect((ADDR[(S, 4)], LIMITED_PORT))
        except (socket.timeout, OSError):
            client.close()
            return False
        self.addCleanup(client.close)
        return True

    def test_connlimit_keeps_counting_the_connections_of_the_unchanged_rule(self):
        listener = self.lab.ns[S].socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((ADDR[(S, 4)], LIMITED_PORT))
        listener.listen(8)  # the server's kernel completes connections without an accept
        self.write(forward(connlimit_rule("limit")))
        daemon = self.start_verdictd(self.path)
        # Two connections held open, counted by the rule as their SYNs pass.
        held = [self.connects(), self.connects()]
        self.assertEqual(held, [True, True])
        self.assertFalse(self.connects(), "a third connection must be refused before a reload")

        self.reload(daemon, forward(UNRELATED, connlimit_rule("limit")))
        kept = self.connects()
        self.reload(daemon, forward(UNRELATED, connlimit_rule("limit, changed")))
        changed = self.connects()
        print(f"connlimit: a third connection after a reload keeping the rule: "
              f"{'passed' if kept else 'refused'}; after one changing it: "
              f"{'passed' if changed else 'refused'}", file=sys.stderr)
        self.assertFalse(kept, "the unchanged rule forgot the connections it counted")
        self.assertTrue(changed, "the changed rule kept the state of the old one")


if __name__ == "__main__":
    unittest.main()
