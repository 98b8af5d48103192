"""The stateful host firewall and the stateful gateway (issue 3) on real
traffic, TCP, UDP and ICMP over IPv4 and IPv6, each checked against the
kernel running the same ruleset (see oracle.py): replies come back only as
ESTABLISHED, ICMP errors (a UDP socket's ECONNREFUSED) only as RELATED,
invalid segments are dropped, and new connections reach only the listed
ports. A TCP connection counts as open only once data went both ways (an
echo came back): a handshake alone proves nothing about the segments after
it (issue 8)."""

import unittest

from ct_probes import UdpEcho
from lab import CLIENT, ROUTER, SERVER
from oracle import LabTestCase
from probes import Ping, RawIcmp, RawTcp, TcpEcho

C, R, S, RW = CLIENT, ROUTER, SERVER, "router-wan"


class StatefulFirewallTest(LabTestCase):

    def test_host_firewall(self):
        self.serve(tcp={R: [22, 80, 23, 8080], S: [8080]})
        probes = []
        for family in (4, 6):
            probes += [
                (TcpEcho(C, R, 22, family), "open"),
                (TcpEcho(C, R, 80, family), "open"),
                (TcpEcho(C, R, 23, family), "timeout"),
                (UdpEcho(C, R, 53, family), "answered"),
                (UdpEcho(C, R, 5301, family), "lost"),
                (Ping(C, R, family), "reply"),
                # The router's own connections: what comes back is ESTABLISHED or RELATED.
                (TcpEcho(R, S, 8080, family), "open"),
                (UdpEcho(R, S, 5300, family), "answered"),
                (UdpEcho(R, S, 7000, family, closed=True), "refused"),
                (Ping(R, S, family), "reply"),
                (RawTcp(C, R, 8080, "ACK", family), "delivered"),
                (RawTcp(C, R, 8080, "SYN,ACK", family), "dropped"),
                (RawTcp(C, R, 8080, "FIN", family), "dropped"),
                (RawIcmp(S, RW, 0 if family == 4 else 129, family=family), "dropped"),
                (RawIcmp(S, RW, 3 if family == 4 else 1, 3 if family == 4 else 4, family=family),
                 "dropped"),
            ]
        self.check_scenario("ct_host_firewall", [probes])

    def test_gateway(self):
        self.serve(tcp={S: [22, 80, 23, 8080], C: [22]})
        probes = []
        for family in (4, 6):
            probes += [
                (TcpEcho(C, S, 22, family), "open"),
                (TcpEcho(C, S, 80, family), "open"),
                (TcpEcho(C, S, 23, family), "timeout"),
                (TcpEcho(S, C, 22, family), "timeout"),
                (UdpEcho(C, S, 53, family), "answered"),
                (UdpEcho(C, S, 54, family), "lost"),
                (UdpEcho(S, C, 53, family), "lost"),
                (UdpEcho(C, S, 7000, family, closed=True), "refused"),
                (Ping(C, S, family), "reply"),
                (Ping(S, C, family), "none"),
                (RawTcp(C, S, 8080, "ACK", family), "delivered"),
                (RawTcp(C, S, 8080, "SYN,ACK", family), "dropped"),
                (RawTcp(C, S, 8080, "", family), "dropped"),
                (RawIcmp(S, C, 0 if family == 4 else 129, family=family), "dropped"),
                (RawIcmp(S, C, 3 if family == 4 else 1, 3 if family == 4 else 4, family=family),
                 "dropped"),
            ]
        self.check_scenario("ct_gateway", [probes])


if __name__ == "__main__":
    unittest.main()
