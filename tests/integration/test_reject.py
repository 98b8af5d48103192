"""REJECT on the wire, under the kernel's iptables and under verdictd
(reject.json), IPv4 and IPv6:

FORWARD  the client connects to the server's tcp/7001 (tcp-reset) and sends
         on connected UDP sockets to udp/7002 (the default port
         unreachable) and udp/7003 (icmp-host-prohibited for IPv4,
         icmp6-adm-prohibited for IPv6, two rules of one chain);
INPUT    the same to the router's own address: tcp/7101 (tcp-reset) and
         udp/7102 (port unreachable).

Every port has a listener, so a packet let through would connect or go
unanswered: only REJECT's answer gives the socket its error. Each probe must
fail at once with the error the answer means (ECONNREFUSED, EHOSTUNREACH,
EACCES). A packet socket in the client captures each probe and its answer;
the answers the kernel and verdictd send for the same probe are compared
field by field (relative to the probe where the probe's own random values
show: ports, sequence numbers), and the agreement is printed. Fields allowed
to differ, and why, are in ALLOWED.
"""
# ctest labels: reject

import errno
import select
import socket
import struct
import sys
import time
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, ruleset_path

RULESET = ruleset_path("reject")
C, R, S = CLIENT, ROUTER, SERVER
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
# An answer comes at once; a probe without one would wait for a SYN retry
# (1 s) or forever.
QUICK = 0.8
SETTLE = 0.2  # seconds for a last answer to reach the capture
TCP_PORTS = (7001, 7101)

# (name, protocol, destination namespace, port, family, the error the answer
# gives); a name ending in "large" sends a datagram longer than an error quotes.
PROBES = [
    ("FORWARD tcp-reset", "tcp", S, 7001, 4, errno.ECONNREFUSED),
    ("FORWARD port unreachable", "udp", S, 7002, 4, errno.ECONNREFUSED),
    ("INPUT port unreachable large", "udp", R, 7102, 4, errno.ECONNREFUSED),
    ("INPUT port unreachable v6 large", "udp", R, 7102, 6, errno.ECONNREFUSED),
    ("FORWARD host prohibited", "udp", S, 7003, 4, errno.EHOSTUNREACH),
    ("INPUT tcp-reset", "tcp", R, 7101, 4, errno.ECONNREFUSED),
    ("INPUT port unreachable", "udp", R, 7102, 4, errno.ECONNREFUSED),
    ("FORWARD tcp-reset v6", "tcp", S, 7001, 6, errno.ECONNREFUSED),
    ("FORWARD port unreachable v6", "udp", S, 7002, 6, errno.ECONNREFUSED),
    ("FORWARD adm prohibited v6", "udp", S, 7003, 6, errno.EACCES),
    ("INPUT tcp-reset v6", "tcp", R, 7101, 6, errno.ECONNREFUSED),
    ("INPUT port unreachable v6", "udp", R, 7102, 6, errno.ECONNREFUSED),
]

# Fields of an answer that may differ between the kernel's and verdictd's, and why.
ALLOWED = {
    "ip id": "the ICMP error's ID is picked by ip_select_ident from a hashed, "
             "randomly seeded counter: by icmp_send under the kernel, by the raw "
             "socket's send under verdictd",
    "flow label": "the kernel's ICMPv6 socket labels its flows with a hash of "
                  "the flow (net.ipv6.auto_flowlabels); verdictd's raw socket "
                  "sends the label it built (0, as the kernel's RST has)",
    "tcp checksum": "the kernel leaves its RST's checksum to the device "
                    "(CHECKSUM_PARTIAL), which a veth never fills in: it arrives "
                    "holding the pseudo-header sum; verdictd's is whole",
}


def _family(family):
    return socket.AF_INET if family == 4 else socket.AF_INET6


def _ones_sum(data, initial=0):
    if len(data) % 2:
        data += b"\0"
    total = initial
    for (word,) in struct.iter_unpack("!H", data):
        total += word
    while total > 0xffff:
        total = (total & 0xffff) + (total >> 16)
    return total


def _pseudo_header(family, source, destination, protocol, length):
    if family == 4:
        return source + destination + struct.pack("!BBH", 0, protocol, length)
    return source + destination + struct.pack("!IxxxB", length, protocol)


def _checksum_state(data, at, pseudo=b""):
    """"valid" when the ones-complement sum over the pseudo-header and
    `data` checks; "pseudo-header sum" when the field at `at` holds only the
    pseudo-header's sum, as CHECKSUM_PARTIAL leaves it; else "wrong"."""
    if _ones_sum(pseudo + data) == 0xffff:
        return "valid"
    if pseudo and struct.unpack("!H", data[at:at + 2])[0] == _ones_sum(pseudo):
        return "pseudo-header sum"
    return "wrong"


def _network(frame):
    """(family, IP packet) of an Ethernet frame, or None."""
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x0800:
        return 4, frame[14:14 + struct.unpack("!H", frame[16:18])[0]]
    if ethertype == 0x86dd:
        return 6, frame[14:14 + 40 + struct.unpack("!H", frame[18:20])[0]]
    return None


def _layout(family, packet):
    """(protocol, transport offset, source, destination) of an IP packet
    without extension headers."""
    if family == 4:
        return packet[9], (packet[0] & 0x0f) * 4, packet[12:16], packet[16:20]
    return packet[6], 40, packet[8:24], packet[24:40]


def _without_hop_limit(family, packet):
    """The packet with its TTL or hop limit and IPv4 header checksum zeroed:
    a forwarded packet is quoted as the router saw it, one hop on."""
    b = bytearray(packet)
    if family == 4:
        b[8] = 0
        b[10:12] = b"\0\0"
    else:
        b[7] = 0
    return bytes(b)


def describe(family, answer, probe):
    """The answer's fields, those that carry the probe's own random values
    stated relative to the probe."""
    protocol, offset, source, destination = _layout(family, answer)
    fields = {}
    if family == 4:
        tos, length, ident, frag, ttl = struct.unpack("!xBHHHB", answer[:9])
        fields.update({"tos": hex(tos), "total length": length, "ip id": ident,
                       "DF": bool(frag & 0x4000), "fragment": frag & 0x3fff, "ttl": ttl,
                       "ip header checksum": _checksum_state(answer[:offset], 10)})
    else:
        first, length, _, hop_limit = struct.unpack("!IHBB", answer[:8])
        fields.update({"traffic class": hex((first >> 20) & 0xff),
                       "flow label": hex(first & 0xfffff), "payload length": length,
                       "hop limit": hop_limit})
    fields.update({"protocol": protocol,
                   "source": socket.inet_ntop(_family(family), source),
                   "destination": socket.inet_ntop(_family(family), destination)})
    transport = answer[offset:]
    _, probe_offset, _, _ = _layout(family, probe)
    probe_transport = probe[probe_offset:]
    if protocol == 6:
        sport, dport, seq, ack, data_offset, flags, window, _, urgent = \
            struct.unpack("!HHIIBBHHH", transport[:20])
        probe_sport, probe_dport, probe_seq = struct.unpack("!HHI", probe_transport[:8])
        fields.update({
            "tcp source port is the probe's destination port": sport == probe_dport,
            "tcp destination port is the probe's source port": dport == probe_sport,
            "tcp seq": seq, "tcp ack - probe seq": (ack - probe_seq) % 2**32,
            "tcp header length": (data_offset >> 4) * 4, "tcp flags": hex(flags),
            "tcp window": window, "tcp urgent": urgent,
            "tcp checksum": _checksum_state(transport, 16, _pseudo_header(
                family, source, destination, 6, len(transport)))})
    else:
        kind, code, _, rest = struct.unpack("!BBH4s", transport[:8])
        quote = transport[8:]
        pseudo = b"" if family == 4 else _pseudo_header(family, source, destination, 58,
                                                           len(transport))
        fields.update({
            "icmp type": kind, "icmp code": code, "icmp unused": rest.hex(),
            "icmp checksum": _checksum_state(transport, 2, pseudo),
            "quoted length": len(quote),
            "quote is the probe, one hop on or not":
                _without_hop_limit(family, quote) ==
                _without_hop_limit(family, probe[:len(quote)]),
            "quoted ttl or hop limit": quote[8] if family == 4 else quote[7]})
    return fields


class Capture:
    """Every frame on the client's link, in and out, from now on."""

    def __init__(self, lab):
        self.socket = lab.ns[C].socket(socket.AF_PACKET, socket.SOCK_RAW,
                                       socket.htons(ETH_P_ALL))
        self.socket.bind(("eth0", ETH_P_ALL))
        self.socket.setblocking(False)

    def frames(self):
        """(outgoing, family, packet) of what arrived since the last call."""
        out = []
        while select.select([self.socket], [], [], 0)[0]:
            frame, address = self.socket.recvfrom(65535)
            network = _network(frame)
            if network:
                out.append((address[2] == PACKET_OUTGOING, *network))
        return out

    def close(self):
        self.socket.close()


def _is_answer(family, packet):
    protocol, offset, _, _ = _layout(family, packet)
    if protocol == 6:
        return bool(packet[offset + 13] & 0x04)  # RST
    return protocol == (1 if family == 4 else 58) and packet[offset] == (3 if family == 4 else 1)


def _probe_of(family, packet, port, protocol):
    number, offset, _, _ = _layout(family, packet)
    return number == {"tcp": 6, "udp": 17}[protocol] and \
        struct.unpack("!H", packet[offset + 2:offset + 4])[0] == port


class RejectTest(LabTestCase):

    def setUp(self):
        super().setUp()
        # Answer every probe at once: no rate limit on the kernel's ICMP errors.
        self.lab.ns[R].sysctl({"net.ipv4.icmp_ratelimit": 0, "net.ipv6.icmp.ratelimit": 0})
        self.listeners = []
        for where, ports in ((S, (7001, 7002, 7003)), (R, (7101, 7102))):
            for family in (4, 6):
                for port in ports:
                    kind = socket.SOCK_STREAM if port in TCP_PORTS else socket.SOCK_DGRAM
                    s = self.lab.ns[where].socket(_family(family), kind)
                    if family == 6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((ADDR[(where, family)], port))
                    if kind == socket.SOCK_STREAM:
                        s.listen(16)
                    self.listeners.append(s)
        self.addCleanup(lambda: [s.close() for s in self.listeners])

    def probe(self, protocol, where, port, family, payload):
        """(outcome, seconds): the errno name the client's socket got, or
        "connected" / "no answer"."""
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        s = self.lab.ns[C].socket(_family(family), kind)
        try:
            s.setblocking(False)
            if protocol == "udp":
                # A fixed source port, so both runs quote the same datagram.
                s.bind((ADDR[(C, family)], 40000 + port))
            started = time.monotonic()
            target = (ADDR[(where, family)], port)
            if protocol == "tcp":
                s.connect_ex(target)
                ready = select.select([], [s], [], QUICK)[1]
                error = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if ready else None
                outcome = "no answer" if error is None else \
                    "connected" if error == 0 else errno.errorcode[error]
            else:
                s.connect(target)
                s.send(payload)
                ready = select.select([s], [], [], QUICK)[0]
                outcome = "no answer"
                if ready:
                    try:
                        s.recv(64)
                        outcome = "answered by the listener"
                    except OSError as e:
                        outcome = errno.errorcode[e.errno]
            return outcome, time.monotonic() - started
        finally:
            s.close()

    def run_probes(self, side):
        """({probe name: (outcome, seconds, answer fields or None)}, the
        listings `-L -n` of both families, the rule lines of both saves)."""
        if side.daemon is None:
            listings = [self.lab.ns[R].run([tool, "-L", "-n"]).stdout
                        for tool in ("iptables-legacy", "ip6tables-legacy")]
            saved = [self.lab.ns[R].run([tool]).stdout
                     for tool in ("iptables-legacy-save", "ip6tables-legacy-save")]
        else:
            listings = [side.daemon.ctl("list", "-n", f"-{f}").stdout for f in (4, 6)]
            saved = [self.lab.ctl("export", f"-{f}", RULESET).stdout for f in (4, 6)]
        rules = [[l for l in text.splitlines() if l.startswith("-A ")] for text in saved]
        capture = Capture(self.lab)
        results = {}
        try:
            for name, protocol, where, port, family, _ in PROBES:
                capture.frames()
                payload = b"x" * 1400 if name.endswith("large") else b"rejected?"
                outcome, seconds = self.probe(protocol, where, port, family, payload)
                time.sleep(SETTLE)
                frames = capture.frames()
                probes = [p for out, f, p in frames
                          if out and f == family and _probe_of(family, p, port, protocol)]
                answers = [p for out, f, p in frames
                           if not out and f == family and _is_answer(family, p)]
                fields = describe(family, answers[0], probes[0]) if answers and probes else None
                results[name] = (outcome, seconds, fields)
        finally:
            capture.close()
        return results, [[l.rstrip() for l in text.splitlines()] for text in listings], rules

    def test_answers_agree_with_the_kernel(self):
        (kernel, k_listings, k_rules), (verdictd, v_listings, v_rules) = \
            self.against_the_kernel(RULESET, self.run_probes)
        # The rules as iptables and ip6tables list and save them.
        self.maxDiff = None
        self.assertEqual(v_listings, k_listings)
        self.assertEqual(v_rules, k_rules)
        self.assertIn("-A prohibited -m comment --comment \"IPv6 administratively prohibited\" "
                      "-j REJECT --reject-with icmp6-adm-prohibited", k_rules[1])
        agreed = total = 0
        allowed = {}
        wrong = []
        for name, _, _, _, _, expected in PROBES:
            k_outcome, k_seconds, k_fields = kernel[name]
            v_outcome, v_seconds, v_fields = verdictd[name]
            print(f"{name:30} kernel {k_outcome} in {k_seconds * 1000:.1f} ms, "
                  f"verdictd {v_outcome} in {v_seconds * 1000:.1f} ms", file=sys.stderr)
            self.assertEqual(k_outcome, errno.errorcode[expected], f"kernel: {name}")
            self.assertEqual(v_outcome, errno.errorcode[expected], f"verdictd: {name}")
            self.assertIsNotNone(k_fields, f"no answer from the kernel captured: {name}")
            self.assertIsNotNone(v_fields, f"no answer from verdictd captured: {name}")
            self.assertEqual(sorted(k_fields), sorted(v_fields), name)
            for field, k_value in k_fields.items():
                total += 1
                if v_fields[field] == k_value:
                    agreed += 1
                elif field in ALLOWED:
                    allowed.setdefault(field, []).append(
                        f"{name}: kernel {k_value}, verdictd {v_fields[field]}")
                else:
                    wrong.append(f"  {name}: {field}: kernel {k_value}, verdictd {v_fields[field]}")
        for field, cases in allowed.items():
            print(f"allowed to differ: {field} ({ALLOWED[field]}):\n    " + "\n    ".join(cases),
                  file=sys.stderr)
        print(f"reject: {agreed} of {total} answer fields agree, kernel == verdictd, "
              f"{total - agreed - len(wrong)} allowed to differ", file=sys.stderr)
        if wrong:
            self.fail("verdictd's answers differ from the kernel's:\n" + "\n".join(wrong))


if __name__ == "__main__":
    unittest.main()
