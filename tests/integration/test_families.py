# ctest labels: conntrack
"""One ruleset, two families, kept apart as iptables and ip6tables keep them
(issue 8). A host firewall with an IPv4 DROP policy, written once as a ruleset
that covers IPv4 only and once with a policy per family, against the kernel
running the same rules: IPv4 is filtered, IPv6 passes — neighbour discovery
included, which these tests need since they remove the lab's permanent IPv6
neighbour entries. verdictd steers only what a family needs: nothing of IPv6
for the IPv4-only ruleset, no more than the conntrack tracking hooks for the
other."""

import os
import unittest

from lab import _MAC, ADDR, CLIENT, ROUTER
from oracle import Action, LabTestCase
from probes import Ping, TcpEcho

C, R = CLIENT, ROUTER


class FamiliesTest(LabTestCase):

    def without_ipv6_neighbours(self):
        """An Action: the client and the router forget each other's IPv6
        link-layer address, so IPv6 needs neighbour discovery through INPUT."""
        lan = self.lab.router_lan
        entries = [(C, ADDR[(R, 6)], "eth0", _MAC["router-lan0"]),
                   (R, ADDR[(C, 6)], lan, _MAC["client-eth0"])]

        def forget():
            for where, address, dev, _ in entries:
                self.lab.ns[where].ip_batch([f"neigh del {address} dev {dev}"])

        def restore():
            for where, address, dev, mac in entries:
                self.lab.ns[where].ip_batch(
                    [f"neigh replace {address} lladdr {mac} dev {dev} nud permanent"])

        return Action("IPv6 neighbours forgotten", forget, restore)

    def steering_snapshot(self, into):
        """An Action that keeps what the router's iptables and ip6tables hold."""
        def take():
            backend = os.environ.get("VERDICTD_STEERING", "legacy")
            into.append({4: self.lab.ns[R].run([f"iptables-{backend}-save"]).stdout,
                         6: self.lab.ns[R].run([f"ip6tables-{backend}-save"]).stdout})
        return Action("steering read", take, lambda: None)

    def run_host_firewall(self, name):
        self.serve(tcp={R: [22, 23]})
        probes = [
            (TcpEcho(C, R, 22, 4), "open"),
            (TcpEcho(C, R, 23, 4), "timeout"),
            (Ping(C, R, 4), "none"),
            (TcpEcho(C, R, 22, 6), "open"),
            (TcpEcho(C, R, 23, 6), "open"),
            (Ping(C, R, 6), "reply"),
        ]
        snapshots = []
        self.check_scenario(name, [self.without_ipv6_neighbours(),
                                   self.steering_snapshot(snapshots), probes])
        return snapshots[-1]  # the verdictd run's

    def test_ruleset_covering_ipv4_only(self):
        steering = self.run_host_firewall("families_ipv4_only")
        self.assertIn("-j NFQUEUE", steering[4])
        # IPv6 is not steered at all: its owned chains are empty.
        self.assertNotIn("-j NFQUEUE", steering[6])

    def test_policy_per_family(self):
        steering = self.run_host_firewall("families_policy_per_family")
        self.assertIn("-A VERDICTD-INPUT", steering[4])
        self.assertIn("-A VERDICTD-INPUT", steering[6])


if __name__ == "__main__":
    unittest.main()
