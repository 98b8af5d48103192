"""The routing and clock matches under the kernel and under verdictd, the
same ruleset, the same traffic (see oracle.py):

raw PREROUTING, an anti-spoofing rule set: a source that is one of the
         router's own addresses from outside (addrtype --src-type LOCAL
         ! -i lo), a source the router would not route back through the
         interface it came in on (rpfilter --invert), and broadcasts
         (addrtype --dst-type BROADCAST) are dropped; unicast to the router
         through its own interface is counted (--limit-iface-in);
FORWARD  UDP to port 7001 is dropped by a time window that includes now, to
         7002 by one that excludes it, to 7003 by a window in the kernel's
         timezone (--kerneltz) that includes now.

Datagrams with spoofed sources (bound with IP_TRANSPARENT, IPV6_FREEBIND) go from the client
and the server, genuine ones both ways, and TCP connections carry data both
ways. Which datagrams arrived, the TCP echoes and every rule's counter must
be the same under both (the counting rules count UDP only: the neighbour
discovery and TCP retransmissions of the moment vary).
"""
# ctest labels: matches

import ctypes
import json
import os
import select
import socket
import sys
import time
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, listing_counters
from probes import TcpEcho

C, R, S = CLIENT, ROUTER, SERVER
PORTS = (7000, 7001, 7002, 7003)
QUIET = 0.5  # seconds without a datagram before the receivers are done
IP_TRANSPARENT = 19  # IPv4 sends from a foreign source only with it (FLOWI_FLAG_ANYSRC)
IPV6_FREEBIND = 78


class _Timezone(ctypes.Structure):
    _fields_ = [("minuteswest", ctypes.c_int), ("dsttime", ctypes.c_int)]


class _Timeval(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long)]


def kernel_minutes_west():
    """The kernel's timezone (sys_tz), as gettimeofday reports it."""
    tv, tz = _Timeval(), _Timezone()
    ctypes.CDLL(None).gettimeofday(ctypes.byref(tv), ctypes.byref(tz))
    return tz.minuteswest


def clock(seconds):
    seconds %= 86400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def window(offset_from, offset_to, shift=0):
    """timestart and timestop around now (+ shift seconds), in seconds."""
    now = int(time.time()) + shift
    return {"daytime": {"start": clock(now + offset_from), "stop": clock(now + offset_to)}}


def ruleset():
    """The ruleset, its time windows around the time of the test."""
    udp = {"protocol": "udp"}
    kernel_shift = -60 * kernel_minutes_west()
    return {
        "comment": "anti-spoofing with addrtype and rpfilter; time windows "
                   "(tests/integration/test_routing_matches.py)",
        "tables": {
            "raw": {"PREROUTING": {"policy": "ACCEPT", "rules": [
                {"comment": "own address as source",
                 "match": {"!in_interface": "lo", "src_type": "LOCAL"}, "target": "DROP"},
                {"comment": "reverse path", "match": {"rpfilter": {"invert": True}},
                 "target": "DROP"},
                {"comment": "broadcast", "match": {"dst_type": "BROADCAST"}, "target": "DROP"},
                {"comment": "to the router through its own interface",
                 "match": {**udp, "dst_type": "LOCAL", "limit_iface_in": True}},
                {"comment": "to the router not through it",
                 "match": {**udp, "!dst_type": "LOCAL", "limit_iface_in": True}},
                {"comment": "loose path", "match": {**udp, "rpfilter": {"loose": True}}},
            ]}},
            "filter": {"FORWARD": {"policy": "ACCEPT", "rules": [
                {"comment": "time window now",
                 "match": {**udp, "dport": 7001, **window(-3600, 3600)}, "target": "DROP"},
                {"comment": "time window later",
                 "match": {**udp, "dport": 7002, **window(7200, 10800)}, "target": "DROP"},
                {"comment": "kernel timezone window now",
                 "match": {**udp, "dport": 7003, **window(-600, 600, kernel_shift),
                           "kerneltz": True}, "target": "DROP"},
            ]}},
        },
    }


def _family(family):
    return socket.AF_INET if family == 4 else socket.AF_INET6


class RoutingMatchesTest(LabTestCase):
    maxDiff = None

    def setUp(self):
        super().setUp()
        self.receivers = {}
        for where in (R, S):
            for family in (4, 6):
                for port in PORTS:
                    self.receivers[(where, family, port)] = self.receiver(where, family, port)

    def receiver(self, where, family, port):
        s = self.lab.ns[where].socket(_family(family), socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        if family == 6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("0.0.0.0" if family == 4 else "::", port))
        s.setblocking(False)
        return s

    def datagrams(self):
        """(name, sending namespace, family, source or None, destination)."""
        return [
            ("genuine", C, 4, None, ADDR[(S, 4)]),
            ("genuine v6", C, 6, None, ADDR[(S, 6)]),
            ("genuine back", S, 4, None, ADDR[(C, 4)]),
            ("genuine back v6", S, 6, None, ADDR[(C, 6)]),
            ("genuine to the router", C, 4, None, ADDR[(R, 4)]),
            ("genuine to the router's other side", C, 4, None, ADDR[("router-wan", 4)]),
            ("genuine to the router v6", C, 6, None, ADDR[(R, 6)]),
            ("spoofed: the server's subnet from the client", C, 4, "10.2.0.77", ADDR[(S, 4)]),
            ("spoofed: the client's subnet from the server", S, 4, "10.1.0.50", ADDR[(C, 4)]),
            ("spoofed: unroutable", C, 4, "203.0.113.9", ADDR[(S, 4)]),
            ("spoofed: the router's address", C, 4, "10.1.0.1", ADDR[(S, 4)]),
            ("spoofed: the router's other address", C, 4, "10.2.0.1", ADDR[(S, 4)]),
            ("spoofed v6: the server's subnet", C, 6, "fd02::77", ADDR[(S, 6)]),
            ("spoofed v6: unroutable", C, 6, "2001:db8::9", ADDR[(S, 6)]),
            ("spoofed v6: the router's address", C, 6, "fd01::1", ADDR[(S, 6)]),
            ("subnet broadcast", C, 4, None, "10.1.0.255"),
            ("directed broadcast to the wan", C, 4, None, "10.2.0.255"),
        ]

    def send_all(self):
        for name, where, family, source, destination in self.datagrams():
            s = self.lab.ns[where].socket(_family(family), socket.SOCK_DGRAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                if source:
                    if family == 4:
                        s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
                    else:
                        s.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
                    s.bind((source, 0))
                for port in PORTS:
                    try:
                        s.sendto(f"{name}:{port}".encode(), (destination, port))
                    except PermissionError:
                        pass  # dropped on the way out: the same under both
            finally:
                s.close()

    def received(self):
        """{(receiving namespace, family, port): sorted datagram names}."""
        got = {key: [] for key in self.receivers}
        deadline = time.monotonic() + QUIET
        while time.monotonic() < deadline:
            ready, _, _ = select.select(list(self.receivers.values()), [], [], 0.05)
            for key, s in self.receivers.items():
                if s in ready:
                    while True:
                        try:
                            got[key].append(s.recv(2048).decode())
                        except BlockingIOError:
                            break
                    deadline = time.monotonic() + QUIET
        return {key: sorted(names) for key, names in got.items()}

    def run_once(self, side):
        self.lab.offloads_off()
        self.send_all()
        arrived = self.received()
        self.serve(tcp={S: [80], C: [81]})
        echoes = self.probe([TcpEcho(C, S, 80, 4), TcpEcho(C, S, 80, 6),
                             TcpEcho(S, C, 81, 4), TcpEcho(S, C, 81, 6)])
        counters = {}
        for table in ("raw", "filter"):
            for listing in side.listings(table, "-v", "-x", "-n"):
                listing_counters(listing, table, counters)
        # The rules' own counters: the policies also count what verdictd is not
        # steered (chains without rules) and the neighbour discovery of the moment.
        packets = {key: value[0] for key, value in counters.items() if key[2] != "policy"}
        return arrived, echoes, packets

    def test_anti_spoofing_and_time_windows(self):
        path = os.path.join(self.lab.tmp, "routing_matches.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(ruleset(), f)
        kernel, ours = self.against_the_kernel(path, self.run_once)
        for what, k, v in zip(("arrivals", "TCP echoes", "counters"), kernel, ours):
            self.assertEqual(k, v, f"{what}: the kernel and verdictd differ")
        arrived, echoes, packets = kernel
        # The kernel itself must show what the rules are for.
        self.assertTrue(all(result == "open" for result in echoes.values()), echoes)
        server4 = arrived[(S, 4, 7000)]
        self.assertIn("genuine:7000", server4)
        self.assertFalse([n for n in server4 if n.startswith("spoofed")], server4)
        self.assertEqual(arrived[(S, 4, 7001)], [])  # the window including now
        self.assertIn("genuine:7002", arrived[(S, 4, 7002)])
        self.assertEqual(arrived[(S, 4, 7003)], [])
        self.assertFalse([n for n in arrived[(R, 4, 7000)] if "broadcast" in n])
        for rule in ("own address as source", "reverse path", "broadcast",
                     "to the router through its own interface", "to the router not through it"):
            self.assertGreater(packets[("raw", "PREROUTING", rule)], 0, rule)
        print(f"\n  {sum(packets.values())} packets counted by the rules, "
              f"{sum(len(n) for n in arrived.values())} datagrams arrived, the same under both",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
