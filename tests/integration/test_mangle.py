"""The mangle targets on the wire (TOS, DSCP, TTL, HL, TCPMSS, ECN): one
ruleset with a rule per target form, each keyed by its destination port,
enforced by the router's kernel (iptables-legacy) and then by verdictd (see
oracle.py). The client sends the same hand-made TCP segments, with complete
checksums, through a raw socket; a packet socket on the server's link keeps
what arrives. Each packet must arrive byte for byte the same under both, and
carry the change the rule asks for."""
# ctest labels: mangle

import json
import os
import socket
import struct
import sys
import time
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase
from probes import TCP_FLAGS, checksum

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
CAPTURE_WAIT = 1.0
# The MTU of the router's server-side link while TCPMSS clamps to it.
WAN_MTU = 1400


def tcp_rule(port, target, syn=False):
    match = {"protocol": "tcp", "dport": port}
    if syn:
        match["syn"] = True
    return {"match": match, "target": target}


# The ruleset: (hook, destination port, target, SYN rule).
RULES = [
    ("PREROUTING", 1001, {"TOS": {"set_tos": "0x10"}}, False),
    ("PREROUTING", 1002, {"TOS": {"and_tos": "0x0f"}}, False),
    ("FORWARD", 1003, {"TOS": {"or_tos": "0x21"}}, False),
    ("FORWARD", 1004, {"TOS": {"xor_tos": "0xff"}}, False),
    ("FORWARD", 1011, {"DSCP": {"set_dscp": 10}}, False),
    ("FORWARD", 1012, {"DSCP": {"set_dscp_class": "AF41"}}, False),
    ("FORWARD", 1021, {"TTL": {"ttl_set": 5}}, False),
    ("FORWARD", 1022, {"TTL": {"ttl_dec": 100}}, False),
    ("FORWARD", 1023, {"TTL": {"ttl_inc": 250}}, False),
    ("FORWARD", 1024, {"HL": {"hl_set": 5}}, False),
    ("FORWARD", 1025, {"HL": {"hl_dec": 100}}, False),
    ("FORWARD", 1026, {"HL": {"hl_inc": 250}}, False),
    ("POSTROUTING", 1027, {"TTL": {"ttl_dec": 1}}, False),
    ("POSTROUTING", 1027, {"HL": {"hl_dec": 1}}, False),
    ("FORWARD", 1031, {"TCPMSS": {"set_mss": 1000}}, True),
    ("FORWARD", 1032, {"TCPMSS": {"set_mss": 1400}}, True),
    ("POSTROUTING", 1033, {"TCPMSS": {"clamp_mss_to_pmtu": True}}, True),
    ("FORWARD", 1041, {"ECN": {"ecn_tcp_remove": True}}, False),
    ("FORWARD", 1042, {"ECN": {"ecn_tcp_ece": 1, "ecn_ip_ect": 1}}, False),
]


def ruleset():
    chains = {}
    for hook, port, target, syn in RULES:
        chains.setdefault(hook, {"rules": []})["rules"].append(tcp_rule(port, target, syn))
    return {"comment": "mangle targets, one rule per form, by destination port "
                       "(tests/integration/test_mangle.py)",
            "tables": {"mangle": chains}}


def mss_option(mss):
    return struct.pack("!BBH", 2, 4, mss)


SACK_PERMITTED = bytes([4, 2, 1, 1])


class Segment:
    """A TCP segment from the client to the server, with its IP header."""

    def __init__(self, family, dport, flags="ACK,PSH", options=b"", payload=b"",
                 tos=0, ttl=64, expect=None):
        self.family, self.dport, self.flags = family, dport, flags
        self.options, self.payload, self.tos, self.ttl = options, payload, tos, ttl
        # (what, a function of the received packet, the value it must have)
        self.expect = expect
        self.sport = None  # set when sent: the packet's mark among the others

    def __str__(self):
        return f"tcp{self.family} dport {self.dport} [{self.flags}] tos {self.tos:#04x}"

    def packet(self, sport):
        src, dst = ADDR[(CLIENT, self.family)], ADDR[(SERVER, self.family)]
        flags = 0
        for name in filter(None, self.flags.split(",")):
            flags |= TCP_FLAGS[name]
        header_words = 5 + len(self.options) // 4
        tcp = struct.pack("!HHIIBBHHH", sport, self.dport, 1000, 0, header_words << 4, flags,
                          8192, 0, 0) + self.options + self.payload
        if self.family == 4:
            pseudo = (socket.inet_aton(src) + socket.inet_aton(dst)
                      + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp)))
        else:
            pseudo = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                      + struct.pack("!IxxxB", len(tcp), socket.IPPROTO_TCP))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        if self.family == 4:
            header = struct.pack("!BBHHHBBH4s4s", 0x45, self.tos, 20 + len(tcp), sport, 0,
                                 self.ttl, socket.IPPROTO_TCP, 0, socket.inet_aton(src),
                                 socket.inet_aton(dst))
            header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        else:
            first = (6 << 28) | (self.tos << 20) | 0x12345
            header = struct.pack("!IHBB16s16s", first, len(tcp), socket.IPPROTO_TCP, self.ttl,
                                 socket.inet_pton(socket.AF_INET6, src),
                                 socket.inet_pton(socket.AF_INET6, dst))
        return header + tcp


def tos_of(p):
    return p[1] if p[0] >> 4 == 4 else ((p[0] & 0x0F) << 4) | (p[1] >> 4)


def ttl_of(p):
    return p[8] if p[0] >> 4 == 4 else p[7]


def tcp_of(p):
    return p[(p[0] & 0x0F) * 4:] if p[0] >> 4 == 4 else p[40:]


def mss_of(p):
    """The MSS option's value, or None."""
    tcp = tcp_of(p)
    options, i = tcp[20:(tcp[12] >> 4) * 4], 0
    while i + 4 <= len(options):
        if options[i] == 2 and options[i + 1] == 4:
            return struct.unpack("!H", options[i + 2:i + 4])[0]
        i += 1 if options[i] <= 1 else max(options[i + 1], 1)
    return None


def tcp_flags_of(p):
    return tcp_of(p)[13]


def probes():
    """The segments, each with the change it must show on arrival (the
    router's forwarding takes one off the TTL or hop limit)."""
    ece_cwr = "SYN,ECE,CWR"
    out = []
    for family in (4, 6):
        out += [
            # --set-tos 0x10 without a mask sets the whole byte (libxt_TOS).
            Segment(family, 1001, tos=0xC3, expect=("tos", tos_of, 0x10)),
            Segment(family, 1002, tos=0xFF, expect=("tos", tos_of, 0x0F)),
            Segment(family, 1003, tos=0x02, expect=("tos", tos_of, 0x23)),
            Segment(family, 1004, tos=0x0F, expect=("tos", tos_of, 0xF0)),
            Segment(family, 1011, tos=0x03, expect=("tos", tos_of, 0x2B)),
            Segment(family, 1012, tos=0x01, expect=("tos", tos_of, 0x89)),
            Segment(family, 1031, flags="SYN", options=mss_option(1460) + SACK_PERMITTED,
                    expect=("mss", mss_of, 1000)),
            Segment(family, 1032, flags="SYN", options=mss_option(1300) + SACK_PERMITTED,
                    expect=("mss", mss_of, 1300)),
            Segment(family, 1032, flags="SYN", options=SACK_PERMITTED,
                    expect=("mss", mss_of, 536 if family == 4 else 1220)),
            Segment(family, 1032, flags="SYN", payload=b"data",
                    expect=("mss", mss_of, None)),
            Segment(family, 1033, flags="SYN", options=mss_option(1460),
                    expect=("mss", mss_of, WAN_MTU - (40 if family == 4 else 60))),
            Segment(family, 1027, ttl=64, expect=("ttl", ttl_of, 62)),
        ]
    out += [
        Segment(4, 1021, expect=("ttl", ttl_of, 5)),
        Segment(4, 1022, ttl=30, expect=("ttl", ttl_of, 0)),
        Segment(4, 1023, ttl=30, expect=("ttl", ttl_of, 255)),
        Segment(6, 1021, expect=("ttl", ttl_of, 63)),  # TTL is IPv4's alone
        Segment(6, 1024, expect=("hop limit", ttl_of, 5)),
        Segment(6, 1025, ttl=30, expect=("hop limit", ttl_of, 0)),
        Segment(6, 1026, ttl=30, expect=("hop limit", ttl_of, 255)),
        Segment(4, 1041, flags=ece_cwr, tos=0x02,
                expect=("TCP flags", tcp_flags_of, TCP_FLAGS["SYN"])),
        Segment(4, 1042, flags="SYN", tos=0xA0,
                expect=("tos, ECE", lambda p: (tos_of(p), tcp_flags_of(p)),
                        (0xA1, TCP_FLAGS["SYN"] | TCP_FLAGS["ECE"]))),
        Segment(6, 1041, flags=ece_cwr, expect=("TCP flags", tcp_flags_of, 0xC2)),  # IPv4 only
    ]
    return out


class MangleTest(LabTestCase):

    def send_and_capture(self):
        """Sends every probe from the client and returns {probe: the bytes
        that reached the server's link, from the IP header on}."""
        sent = probes()
        capture = self.lab.ns[SERVER].socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                             socket.htons(ETH_P_ALL))
        capture.bind(("eth0", ETH_P_ALL))
        senders = {family: self.lab.ns[CLIENT].socket(
            socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_RAW,
            socket.IPPROTO_RAW) for family in (4, 6)}
        try:
            for i, probe in enumerate(sent):
                probe.sport = 30000 + i
                dst = ADDR[(SERVER, probe.family)]
                senders[probe.family].sendto(probe.packet(probe.sport), (dst, 0))
            by_port = {}
            capture.settimeout(0.1)
            deadline = time.monotonic() + CAPTURE_WAIT
            while time.monotonic() < deadline and len(by_port) < len(sent):
                try:
                    data, where = capture.recvfrom(65535)
                except TimeoutError:
                    continue
                if where[2] == PACKET_OUTGOING or len(data) < 1:
                    continue
                family = data[0] >> 4
                if family not in (4, 6) or (data[9] if family == 4 else data[6]) != 6:
                    continue
                sport = struct.unpack("!H", tcp_of(data)[:2])[0]
                by_port.setdefault((family, sport), data)
            return {str(p) + f" #{p.sport}": by_port.get((p.family, p.sport)) for p in sent}, sent
        finally:
            capture.close()
            for s in senders.values():
                s.close()

    def test_each_target_rewrites_as_the_kernel(self):
        self.lab.ns[ROUTER].run(["ip", "link", "set", "wan0", "mtu", str(WAN_MTU)])
        path = os.path.join(self.lab.tmp, "mangle_targets.json")
        with open(path, "w") as f:
            json.dump(ruleset(), f, indent=2)
        try:
            kernel, verdictd = self.against_the_kernel(path, lambda side: self.send_and_capture())
        finally:
            self.lab.ns[ROUTER].run(["ip", "link", "set", "wan0", "mtu", "1500"])
        (kernel_bytes, sent), (verdictd_bytes, _) = kernel, verdictd
        differences, unchanged = [], []
        for probe in sent:
            key = str(probe) + f" #{probe.sport}"
            k, v = kernel_bytes[key], verdictd_bytes[key]
            if k is None or v is None:
                differences.append(f"  {probe}: kernel {'lost' if k is None else 'delivered'}, "
                                   f"verdictd {'lost' if v is None else 'delivered'}")
                continue
            if k != v:
                differences.append(f"  {probe}:\n    kernel   {k.hex()}\n    verdictd {v.hex()}")
            what, field, want = probe.expect
            if field(k) != want:
                unchanged.append(f"  {probe}: {what} {field(k)!r} under the kernel, "
                                 f"expected {want!r}")
        if differences:
            self.fail("verdictd's packets differ from the kernel's:\n" + "\n".join(differences))
        if unchanged:
            self.fail("kernel and verdictd agree, but not with the expectation:\n"
                      + "\n".join(unchanged))
        print(f"mangle targets: {len(sent)} packets ({len(RULES)} rules), kernel == verdictd "
              f"byte for byte", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
