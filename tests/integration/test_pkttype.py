"""The pkttype match on real unicast, broadcast and multicast UDP, under the
kernel and under verdictd (pkttype.json), IPv4 and IPv6:

INPUT    the client sends to the router: unicast, its subnet broadcast
         (10.1.0.255), the limited broadcast (255.255.255.255), a directed
         broadcast to the router's other subnet (10.2.0.255, which comes in a
         unicast frame), and to a group the router joined (239.1.1.1,
         ff02::1234);
FORWARD  the client sends unicast to the server (only unicast is forwarded);
OUTPUT   the router sends the same kinds to the client; its own broadcasts
         and multicasts also come back to its INPUT, looped back.

Each datagram goes to ports 7000 (counted only), 7001 (INPUT drops
broadcasts) and 7002 (INPUT and OUTPUT drop all but unicast, FORWARD
multicast). Every rule's packet counter, and which datagrams each socket
received, must be the same under both; the listing and the export must be
iptables' own text.
"""

import select
import socket
import struct
import sys
import time
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, listing_counters, ruleset_path

C, R, S = CLIENT, ROUTER, SERVER
RULESET = ruleset_path("pkttype")
PORTS = (7000, 7001, 7002)
GROUP = {4: "239.1.1.1", 6: "ff02::1234"}
LINK = {C: "eth0", R: "lan0", S: "eth0"}  # each namespace's link on the lan (or its only one)
QUIET = 0.5  # seconds without a datagram before the receivers are done


def _family(family):
    return socket.AF_INET if family == 4 else socket.AF_INET6


class PktTypeTest(LabTestCase):

    def setUp(self):
        super().setUp()
        self.ifindex = {}
        for where in (C, R, S):
            with self.lab.ns[where].entered():
                self.ifindex[where] = socket.if_nametoindex(LINK[where])
        self.receivers = {}  # (namespace, family, port) -> socket
        for where in (C, R, S):
            for family in (4, 6):
                for port in PORTS:
                    self.receivers[(where, family, port)] = self.receiver(where, family, port)

    def socket(self, where, family):
        s = self.lab.ns[where].socket(_family(family), socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        return s

    def receiver(self, where, family, port):
        """A socket on the port that has joined the group on the lan link."""
        s = self.socket(where, family)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == 4:
            s.bind(("0.0.0.0", port))
            if where != S:
                local = ADDR[(where, 4)]
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                             socket.inet_aton(GROUP[4]) + socket.inet_aton(local))
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::", port))
            if where != S:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                             socket.inet_pton(socket.AF_INET6, GROUP[6])
                             + struct.pack("@I", self.ifindex[where]))
        s.setblocking(False)
        return s

    def sender(self, where, family, bind_to_link=False):
        s = self.socket(where, family)
        if family == 4:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                         socket.inet_aton(ADDR[(where, 4)]))
        if bind_to_link:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, LINK[where].encode())
        return s

    def datagrams(self):
        """(name, sending namespace, family, destination, bound to the link)."""
        kinds = []
        for sender, receiver in ((C, R), (R, C)):
            kinds += [
                (f"{sender}>{receiver} unicast", sender, 4, ADDR[(receiver, 4)], False),
                (f"{sender} subnet broadcast", sender, 4, "10.1.0.255", False),
                (f"{sender} limited broadcast", sender, 4, "255.255.255.255", True),
                (f"{sender} multicast", sender, 4, GROUP[4], False),
                (f"{sender}>{receiver} unicast v6", sender, 6, ADDR[(receiver, 6)], False),
                (f"{sender} multicast v6", sender, 6, GROUP[6], False),
            ]
        kinds += [
            ("client directed broadcast to the wan", C, 4, "10.2.0.255", False),
            ("client>server unicast", C, 4, ADDR[(S, 4)], False),
            ("client>server unicast v6", C, 6, ADDR[(S, 6)], False),
        ]
        return kinds

    def send_all(self):
        senders = {}
        for name, where, family, destination, bound in self.datagrams():
            key = (where, family, bound)
            if key not in senders:
                senders[key] = self.sender(where, family, bound)
            for port in PORTS:
                target = (destination, port)
                if family == 6:
                    target = (destination, port, 0, self.ifindex[where])
                senders[key].sendto(f"{name}:{port}".encode(), target)
                time.sleep(0.002)

    def receive_all(self):
        """{(namespace, family, port): sorted payloads}, once QUIET passed
        without a datagram."""
        received = {key: [] for key in self.receivers}
        by_fd = {s.fileno(): key for key, s in self.receivers.items()}
        while True:
            ready, _, _ = select.select(list(by_fd), [], [], QUIET)
            if not ready:
                break
            for fd in ready:
                key = by_fd[fd]
                received[key].append(self.receivers[key].recv(256).decode())
        return {key: sorted(payloads) for key, payloads in received.items()}

    def kernel_counters(self):
        counters = {}
        for tool in ("iptables-legacy", "ip6tables-legacy"):
            listing = self.lab.ns[R].run([tool, "-L", "-v", "-x", "-n"]).stdout
            listing_counters(listing, "filter", counters)
        return counters

    def run_mode(self, mode):
        """Sends every datagram under the kernel or verdictd; returns the
        packet counters, what was received, the -4 listing and (kernel) the
        saved rules."""
        if mode == "kernel":
            self.lab.kernel_load(RULESET)
        else:
            daemon = self.start_verdictd(RULESET)
        try:
            self.send_all()
            received = self.receive_all()
            if mode == "kernel":
                counters = self.kernel_counters()
                listing = self.lab.ns[R].run(["iptables-legacy", "-L", "-n"]).stdout
                saved = self.lab.ns[R].run(["iptables-legacy-save"]).stdout + \
                    self.lab.ns[R].run(["ip6tables-legacy-save"]).stdout
            else:
                counters = listing_counters(daemon.ctl("list", "-v", "-x", "-n").stdout, "filter",
                                            {})
                listing = daemon.ctl("list", "-n", "-4").stdout
                saved = None
        finally:
            for d in self.daemons:
                d.stop()
            self.daemons.clear()
            self.lab.kernel_reset()
        # Policies count the lab's other traffic too (MLD reports, sent at random times).
        packets = {key[2]: count[0] for key, count in counters.items() if key[2] != "policy"}
        return packets, received, [l.rstrip() for l in listing.splitlines()], saved

    def test_packet_types_agree_with_the_kernel(self):
        results = {mode: self.run_mode(mode) for mode in ("kernel", "verdictd")}
        (k_packets, k_received, k_listing, saved) = results["kernel"]
        (v_packets, v_received, v_listing, _) = results["verdictd"]
        for name in k_packets:
            print(f"{name:26} kernel {k_packets[name]:3}  verdictd {v_packets.get(name)}",
                  file=sys.stderr)
        # The traffic reached every kind the kernel tells apart.
        for name in ("INPUT unicast", "INPUT broadcast", "INPUT multicast", "FORWARD unicast",
                     "OUTPUT unicast", "INPUT drops broadcast", "INPUT drops not unicast"):
            self.assertGreater(k_packets[name], 0, name)
        # The kernel calls what the host sends unicast, and forwards no other.
        for name in ("OUTPUT broadcast", "OUTPUT multicast", "FORWARD broadcast"):
            self.assertEqual(k_packets[name], 0, name)

        # What was delivered: INPUT dropped the client's broadcasts on 7001 and
        # all but unicast on 7002; OUTPUT dropped nothing.
        self.assertIn("client subnet broadcast:7000", k_received[(R, 4, 7000)])
        self.assertNotIn("client subnet broadcast:7001", k_received[(R, 4, 7001)])
        self.assertIn("client multicast:7001", k_received[(R, 4, 7001)])
        self.assertNotIn("client multicast v6:7002", k_received[(R, 6, 7002)])
        self.assertIn("router subnet broadcast:7002", k_received[(C, 4, 7002)])

        agreements = sum(v_packets.get(name) == count for name, count in k_packets.items())
        agreements += sum(v_received[key] == got for key, got in k_received.items())
        total = len(k_packets) + len(k_received)
        print(f"pkttype: {agreements} of {total} counters and receivers, kernel == verdictd",
              file=sys.stderr)
        self.assertEqual(v_packets, k_packets)
        self.maxDiff = None
        self.assertEqual(v_received, k_received)
        self.assertEqual(agreements, total)

        self.assertEqual(v_listing, k_listing)
        exported = self.lab.ctl("export", "-4", RULESET).stdout + \
            self.lab.ctl("export", "-6", RULESET).stdout
        self.assertEqual([l for l in exported.splitlines() if l.startswith("-A ")],
                         [l for l in saved.splitlines() if l.startswith("-A ")])


if __name__ == "__main__":
    unittest.main()
