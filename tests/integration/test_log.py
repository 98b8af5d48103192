"""The LOG target against the kernel's: the same hand-made packets (every
byte fixed: TCP with options and every flag, UDP, IPv4 options, fragments,
ICMP and ICMPv6 errors quoting a packet, IPv6 extension headers) go from
the client through the router to an address nobody answers, and the router
logs them in FORWARD (all options; --log-macdecode), mangle POSTROUTING
and, for datagrams the router sends itself as another user, OUTPUT with
--log-uid. Datagrams to the router itself are logged in INPUT, one for each
kind of link-layer destination: unicast, subnet and limited broadcast,
multicast (IPv4 and IPv6), and over the loopback device. First the kernel's
iptables logs them (read from dmesg, with net.netfilter.nf_log_all_netns=1
for the lab's namespace), then verdictd, into a systemd-journald this test
starts in a mount namespace of its own (lab.Journald). Every MESSAGE must be
the kernel's line, byte for byte, MAC= and MACSRC=/MACDST=/MACPROTO= included:
verdictd rebuilds the header from NFQUEUE's sender address and the receiving
link (packet/link_header.hpp).
"""
# ctest labels: log

import json
import os
import re
import socket
import struct
import subprocess
import time
import unittest

from lab import ADDR, CLIENT, ROUTER, Journald, Verdictd, run
from oracle import LabTestCase
from probes import checksum

DEAD = {4: "10.2.0.99", 6: "fd02::99"}  # on the server's link; no one answers for it
SETTLE = 1.0  # seconds for the last lines to be written
NF_LOG_ALL_NETNS = "/proc/sys/net/netfilter/nf_log_all_netns"


def ipv4(proto, payload, src, dst, ident, ttl=64, tos=0, frag=0, options=b""):
    """An IPv4 header (raw sockets fill in the checksum) and its payload."""
    words = 5 + len(options) // 4
    return struct.pack("!BBHHHBBH4s4s", 0x40 | words, tos, words * 4 + len(payload), ident,
                       frag, ttl, proto, 0, socket.inet_aton(src),
                       socket.inet_aton(dst)) + options + payload


def ipv6(next_header, payload, src, dst, traffic_class=0, flow=0, hops=64):
    first = 0x60000000 | traffic_class << 20 | flow
    return struct.pack("!IHBB16s16s", first, len(payload), next_header, hops,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def tcp(sport, dport, seq, ack, flags, options=b"", reserved=0, window=29200, urgent=0,
        data=b""):
    words = 5 + len(options) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, words << 4 | reserved, flags,
                       window, 0, urgent) + options + data


def udp(sport, dport, data=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(kind, code, rest, body=b""):
    message = struct.pack("!BBH", kind, code, 0) + rest + body
    return message[:2] + struct.pack("!H", checksum(message)) + message[4:]


SYN_OPTIONS = bytes([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])


def probes():
    """(family, packet) for each hand-made packet, from the client to DEAD."""
    c4, d4, c6, d6 = ADDR[(CLIENT, 4)], DEAD[4], ADDR[(CLIENT, 6)], DEAD[6]
    quoted_udp4 = ipv4(17, udp(53, 5000, b"abcd"), d4, c4, 0x0101)[:28]
    quoted_tcp4 = ipv4(6, tcp(80, 40000, 7, 0, 0x12), d4, c4, 0x0202, frag=0x4000)[:28]
    quoted_udp6 = ipv6(17, udp(53, 5000, b"abcd"), d6, c6)[:48]
    quoted_tcp6 = ipv6(6, tcp(80, 40000, 7, 0, 0x12), d6, c6)[:48]
    hop_by_hop = bytes([60, 0, 1, 4, 0, 0, 0, 0])  # then destination options
    destination = bytes([17, 0, 1, 4, 0, 0, 0, 0])  # then UDP
    return [
        (4, ipv4(6, tcp(40000, 22, 0x01020304, 0, 0x02, SYN_OPTIONS), c4, d4, 0x1111,
                 tos=0x10, frag=0x4000)),
        (4, ipv4(6, tcp(40001, 80, 5, 6, 0xff, reserved=0x0f, urgent=5, data=b"x"), c4, d4,
                 0x1112, tos=0xb8)),
        (4, ipv4(17, udp(5000, 53, b"abcd"), c4, d4, 0x2222,
                 options=bytes([0x94, 4, 0, 0, 1, 1, 1, 0]))),
        (4, ipv4(17, udp(5000, 54, b"marked"), c4, d4, 0x3333, ttl=3)),
        (4, ipv4(1, icmp(3, 3, b"\0\0\0\0", quoted_udp4), c4, d4, 0x4444)),
        (4, ipv4(1, icmp(3, 4, struct.pack("!HH", 0, 1400), quoted_tcp4), c4, d4, 0x4445)),
        (4, ipv4(1, icmp(8, 0, struct.pack("!HH", 0x4242, 3), b"ping"), c4, d4, 0x4446)),
        (4, ipv4(17, udp(5000, 55, b"first fragment") + b"..", c4, d4, 0x5555, frag=0x2000)),
        (4, ipv4(17, b"later fragment", c4, d4, 0x5555, frag=3)),
        (4, ipv4(6, b"short tcp!", c4, d4, 0x6666)),
        (6, ipv6(6, tcp(40000, 22, 0x01020304, 0, 0x02, SYN_OPTIONS), c6, d6,
                 traffic_class=0x20, flow=0x12345)),
        (6, ipv6(0, hop_by_hop + destination + udp(5000, 53, b"abcd"), c6, d6)),
        (6, ipv6(44, struct.pack("!BBHI", 17, 0, 1, 0xabcd0123) + udp(5000, 55, b"first"),
                 c6, d6)),
        (6, ipv6(44, struct.pack("!BBHI", 17, 0, 16, 0xabcd0123) + b"later", c6, d6)),
        (6, ipv6(58, icmp(2, 0, struct.pack("!I", 1280), quoted_udp6), c6, d6)),
        (6, ipv6(58, icmp(1, 4, b"\0\0\0\0", quoted_tcp6), c6, d6)),
        (6, ipv6(58, icmp(128, 0, struct.pack("!HH", 0x4242, 3), b"ping"), c6, d6)),
    ]


INPUT_PORT = 7100


def input_probes():
    """(namespace, family, packet, destination) for each datagram to the
    router itself, one of each kind of link-layer destination: unicast,
    subnet and limited broadcast, multicast to a group every host is in
    (the MAC is made from the address) from the client; over the loopback
    device (a header of zeros) from the router."""
    c4, r4, c6, r6 = ADDR[(CLIENT, 4)], ADDR[(ROUTER, 4)], ADDR[(CLIENT, 6)], ADDR[(ROUTER, 6)]
    lo4, lo6 = ADDR[("router-lo", 4)], ADDR[("router-lo", 6)]
    datagram = udp(7000, INPUT_PORT, b"in")
    return [(where, family, ipv4(17, datagram, src, dst, 0x8888) if family == 4
             else ipv6(17, datagram, src, dst), dst)
            for where, family, src, dst in (
                (CLIENT, 4, c4, r4), (CLIENT, 4, c4, "10.1.0.255"),
                (CLIENT, 4, c4, "255.255.255.255"), (CLIENT, 4, c4, "224.0.0.1"),
                (CLIENT, 6, c6, r6), (CLIENT, 6, c6, "ff02::1"),
                (ROUTER, 4, lo4, lo4), (ROUTER, 6, lo6, lo6))]


# Sent from the router by another user, through a raw socket so that every
# byte is fixed (a datagram socket picks its IPv4 ID and IPv6 flow label at
# random): OUTPUT's --log-uid names the socket's owner.
OWN_PACKETS = """
import socket, sys
for family, address, packet in ((socket.AF_INET, *sys.argv[1:3]), (socket.AF_INET6, *sys.argv[3:5])):
    socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW).sendto(bytes.fromhex(packet),
                                                                      (address, 0))
"""


def own_packets():
    r4, c4, r6, c6 = (ADDR[(ROUTER, 4)], ADDR[(CLIENT, 4)], ADDR[(ROUTER, 6)],
                      ADDR[(CLIENT, 6)])
    return [c4, ipv4(17, udp(9998, 9999, b"own"), r4, c4, 0x7777).hex(),
            c6, ipv6(17, udp(9998, 9999, b"own"), r6, c6, flow=0x54321).hex()]


def log_rule(prefix, source, **options):
    return {"match": {"source": source},
            "target": {"LOG": {"log_prefix": prefix, **options}}}


def ruleset(tag):
    every = {"log_tcp_sequence": True, "log_tcp_options": True, "log_ip_options": True,
             "log_uid": True}
    forward, postrouting, output, inputs = [], [], [], []
    # Only the client's packets: the router's own (neighbour discovery, its
    # ICMP errors about DEAD) differ from run to run.
    for family in (4, 6):
        net = ADDR[(CLIENT, family)]
        forward += [log_rule(f"{tag} f{family}a ", net, log_level="info", **every),
                    log_rule(f"{tag} f{family}b ", net, log_macdecode=True)]
        postrouting.append(log_rule(f"{tag} p{family} ", net, log_level="debug",
                                    log_ip_options=True))
        output.append(log_rule(f"{tag} o{family} ", net, log_level="info", **every))
        inputs += [{"match": {"source": net, "protocol": "udp", "dport": INPUT_PORT},
                    "target": {"LOG": {"log_prefix": f"{tag} i{family}{kind} ", **options}}}
                   for kind, options in (("a", every), ("b", {"log_macdecode": True}))]
    inputs += [{"match": {"in_interface": "lo", "protocol": "udp", "dport": INPUT_PORT},
                "target": {"LOG": {"log_prefix": f"{tag} l{kind} ", **options}}}
               for kind, options in (("a", {}), ("b", {"log_macdecode": True}))]
    return {"tables": {
        "mangle": {
            "PREROUTING": {"rules": [{"match": {"protocol": "udp", "dport": 54},
                                      "target": {"MARK": {"set_mark": 42}}}]},
            "POSTROUTING": {"rules": postrouting}},
        "filter": {
            "INPUT": {"rules": inputs},
            "FORWARD": {"rules": forward},
            "OUTPUT": {"rules": output + [
                {"match": {"protocol": "udp", "dport": 9999},
                 "target": {"LOG": {"log_prefix": f"{tag} u ", "log_uid": True,
                                    "log_level": "notice"}}}]}}}}


def kernel_lines(tag):
    """The kernel's LOG lines of this test, oldest first."""
    out = run(["dmesg", "-t"]).stdout
    return [line[line.index(tag):] for line in out.splitlines() if tag in line]


class LogTest(LabTestCase):

    def setUp(self):
        super().setUp()
        self.tag = self.lab.id  # unique among the machine's ring buffer
        self.path = os.path.join(self.lab.tmp, "log.json")
        with open(self.path, "w") as f:
            json.dump(ruleset(self.tag), f)

    def send_probes(self):
        # From the client (FORWARD, POSTROUTING), then the same from the
        # router itself (OUTPUT, POSTROUTING: no input device, no MAC=).
        for where in (CLIENT, ROUTER):
            for family, packet in probes():
                fam = socket.AF_INET if family == 4 else socket.AF_INET6
                s = self.lab.ns[where].socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
                try:
                    s.sendto(packet, (DEAD[family], 0))
                finally:
                    s.close()
        for where, family, packet, destination in input_probes():
            fam = socket.AF_INET if family == 4 else socket.AF_INET6
            s = self.lab.ns[where].socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                with self.lab.ns[where].entered():
                    scope = socket.if_nametoindex("eth0" if where == CLIENT else "lo")
                s.sendto(packet, (destination, 0) if family == 4 else (destination, 0, 0, scope))
            finally:
                s.close()
        self.lab.ns[ROUTER].run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--inh-caps=+net_raw", "--ambient-caps=+net_raw", "/usr/bin/python3", "-c",
             OWN_PACKETS, *own_packets()])
        time.sleep(SETTLE)

    def kernel_run(self):
        with open(NF_LOG_ALL_NETNS) as f:
            old = f.read().strip()
        with open(NF_LOG_ALL_NETNS, "w") as f:
            f.write("1")
        try:
            self.lab.kernel_load(self.path)
            self.send_probes()
        finally:
            with open(NF_LOG_ALL_NETNS, "w") as f:
                f.write(old)
            self.lab.kernel_reset()
        return kernel_lines(self.tag)

    def test_messages_are_the_kernels(self):
        expected = self.kernel_run()
        self.assertEqual(len([l for l in expected if f"{self.tag} u " in l]), 2, expected)
        journald = Journald(self.lab)
        self.addCleanup(journald.stop)
        daemon = Verdictd(self.lab, self.path, (), None, wrapper=journald.wrapper)
        self.daemons.append(daemon)
        daemon.wait_ready()
        self.send_probes()
        entries = [e for e in journald.entries() if self.tag in e.get("MESSAGE", "")]
        got = [e["MESSAGE"] for e in entries]
        status = daemon.ctl("status").stdout
        self.assertIn(f"log written={len(got)} to_stderr=0 lost=0", status)

        self.maxDiff = None
        self.assertEqual(sorted(got), sorted(expected))
        with_mac = [l for l in expected if re.search(r"MAC=\S|MACSRC=", l)]
        print(f"\nLOG: all {len(expected)} kernel lines equal byte for byte, "
              f"{len(with_mac)} of them with the link-layer header")
        self.assertGreater(len(with_mac), len(probes()) * 3)

        # The structured fields of one line.
        own = [e for e in entries if f"{self.tag} u " in e["MESSAGE"]]
        self.assertEqual(len(own), 2)
        self.assertIn("UID=65534 GID=65534 ", own[0]["MESSAGE"])
        fields = {k: v for k, v in own[0].items() if k.startswith("VERDICTD_")}
        self.assertEqual(fields, {
            "VERDICTD_TABLE": "filter", "VERDICTD_CHAIN": "OUTPUT", "VERDICTD_RULE": "3",
            "VERDICTD_HOOK": "OUTPUT", "VERDICTD_VERDICT_SO_FAR": "continue",
            "VERDICTD_MARK": "0x0", "VERDICTD_SRC": own[0]["VERDICTD_SRC"],
            "VERDICTD_DST": ADDR[(CLIENT, 4)], "VERDICTD_PROTO": "udp",
            "VERDICTD_SPT": "9998", "VERDICTD_DPT": "9999"})
        self.assertEqual(own[0]["PRIORITY"], "5")
        self.assertEqual(own[0]["SYSLOG_IDENTIFIER"], "verdictd")

        # The verdict so far: the hooks that accepted the packet before, and
        # the mark mangle PREROUTING set on the datagram to port 54.
        def one(prefix, *words):
            found = [e for e in entries if e["MESSAGE"].startswith(f"{self.tag} {prefix}")
                     and all(w in e["MESSAGE"] for w in words)]
            self.assertEqual(len(found), 1, (prefix, words))
            return found[0]
        marked = one("p4 ", "IN=lan0 ", "DPT=54 ")
        self.assertEqual((marked["VERDICTD_ACCEPTED_AT"], marked["VERDICTD_MARK"],
                          marked["VERDICTD_VERDICT_SO_FAR"]),
                         ("PREROUTING FORWARD", "0x2a", "continue"))
        self.assertEqual(one("p4 ", "IN= ", "DPT=54 ")["VERDICTD_ACCEPTED_AT"], "OUTPUT")
        self.assertEqual(one("f6a ", "PROTO=ICMPv6 TYPE=128 ")["VERDICTD_ACCEPTED_AT"],
                         "PREROUTING")
        self.assertEqual(one("la ", "IN=lo ", "SRC=127.0.0.1 ")["VERDICTD_ACCEPTED_AT"],
                         "OUTPUT POSTROUTING PREROUTING")

    def test_without_a_journal_lines_go_to_stderr(self):
        # The machine runs no journald: verdictd's sd_journal_sendv finds no socket.
        daemon = self.start_verdictd(self.path)
        self.send_probes()
        lines = [l for l in daemon.read_log().splitlines() if f"{self.tag} u " in l]
        self.assertEqual(len(lines), 2, daemon.read_log() + daemon.ctl("status").stdout)
        self.assertTrue(lines[0].startswith(f"{self.tag} u IN= OUT=lan0 SRC=10.1.0.1 "), lines)
        self.assertRegex(daemon.ctl("status").stdout, r"log written=0 to_stderr=\d+ lost=0")


if __name__ == "__main__":
    unittest.main()
