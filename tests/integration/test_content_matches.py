"""Content and identity matches on real traffic, under the kernel and under
verdictd (content_matches.json), compared verdict by verdict and counter by
counter:

string  HTTP requests from the client to the server through the router:
        GET /admin dropped by its text, GET /secret by a --hex-string in any
        case, GET / served (the responses counted by their text, data both
        ways); a request whose "GET /" ends exactly at --to is dropped and
        one that runs a byte past it is not (skb_find_text's window).
mac     the client's connections to 8083 dropped by its MAC, to 8084 not.
headers crafted TCP segments of both families dropped or not by their
        DSCP, TOS, ECN bits and MSS option, or u32 tests; ESP and AH packets
        by their SPI (and IPv6 AH's length); IPv6 packets by their set of
        extension headers; SCTP packets by their chunks; IPv6 packets by
        their Hop-by-Hop and Destination options and their routing header
        (type 0 too: only its destination would refuse it) (header_matches.json).
owner   a router process running as nobody (setpriv) is kept from the
        server's port 9000 while root connects; the router's reset for a
        closed port comes from a kernel socket, which exists but has no
        owner.
"""

# ctest labels: matches

import socket
import struct
import sys
import threading
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, listing_counters, ruleset_path
from probes import RawProto, RawTcp, checksum

C, R, S = CLIENT, ROUTER, SERVER

RULESET = ruleset_path("content_matches")
HTTP_PORTS = (80, 8081, 8082, 8083, 8084)
RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
TIMEOUT = 1.5

# Connects as `uid` from the router to the server's port 9000; prints the outcome.
CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(%s)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
"""


class TcpWithHeader(RawTcp):
    """A raw TCP segment with a TOS byte (traffic class) and TCP options."""

    def __init__(self, src, dst, port, flags, family=4, tos=0, options=b""):
        super().__init__(src, dst, port, flags, family)
        self.tos, self.options = tos, options

    def __str__(self):
        return f"{super().__str__()} tos {self.tos:#04x} options {self.options.hex() or '-'}"

    def packet(self, src, dst, s):
        if self.family == 4:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, self.tos)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, self.tos)
        segment = super().packet(src, dst, s)
        options = self.options + b"\0" * (-len(self.options) % 4)
        words = (20 + len(options)) // 4
        segment = segment[:12] + bytes([words << 4]) + segment[13:20] + options + segment[20:]
        if self.family == 4:  # the checksum again, over the options too
            segment = segment[:16] + b"\0\0" + segment[18:]
            pseudo = (socket.inet_aton(src) + socket.inet_aton(dst)
                      + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(segment)))
            segment = segment[:16] + struct.pack("!H", checksum(pseudo + segment)) + segment[18:]
        return segment


class IpsecHeader(RawProto):
    """An ESP (50) or AH (51) header with the given SPI; AH's length field
    says 4 (24 bytes) and its next header is "none"."""

    def __init__(self, src, dst, proto, spi, family=4):
        super().__init__(src, dst, proto, family)
        self.spi = spi

    def __str__(self):
        return f"{super().__str__()} spi {self.spi}"

    def packet(self, src, dst, s):
        if self.proto == 50:
            return struct.pack("!II", self.spi, 1) + self.token * 2
        return struct.pack("!BBHII", 59, 4, 0, self.spi, 1) + self.token + bytes(4)


class DestinationOptions(RawProto):
    """An IPv6 destination options header (padding only) followed by `next`."""

    def __init__(self, src, dst, next_header):
        super().__init__(src, dst, 60, 6)
        self.next_header = next_header

    def __str__(self):
        return f"{super().__str__()} then {self.next_header}"

    def packet(self, src, dst, s):
        return bytes([self.next_header, 0, 1, 4, 0, 0, 0, 0]) + self.token


class OptionsBySocket(RawProto):
    """An IPv6 packet of protocol 253 (experimental) behind a Hop-by-Hop
    (IPV6_HOPOPTS) or Destination (IPV6_DSTOPTS) options header holding
    `options`, which fill it to whole 8-byte units."""

    def __init__(self, src, dst, sockopt, options):
        super().__init__(src, dst, 253, 6)
        self.sockopt, self.options = sockopt, options

    def __str__(self):
        name = "hbh" if self.sockopt == socket.IPV6_HOPOPTS else "dst"
        return f"{super().__str__()} behind {name} options {self.options.hex()}"

    def marker(self):
        return self.token

    def packet(self, src, dst, s):
        units, rest = divmod(2 + len(self.options), 8)
        assert rest == 0 and units > 0
        s.setsockopt(socket.IPPROTO_IPV6, self.sockopt, bytes([0, units - 1]) + self.options)
        return self.token


class RoutingHeader(RawProto):
    """An IPv6 routing header (then no next header) of a type, Segments Left,
    reserved field and addresses: routers on the way never process it."""

    def __init__(self, src, dst, rh_type, segments_left, addresses=(), reserved=0):
        super().__init__(src, dst, 43, 6)
        self.rh_type, self.segments_left = rh_type, segments_left
        self.addresses, self.reserved = addresses, reserved

    def __str__(self):
        return f"{super().__str__()} type {self.rh_type} segments left {self.segments_left} " \
               f"reserved {self.reserved} addresses {','.join(self.addresses) or '-'}"

    def marker(self):
        return self.token

    def packet(self, src, dst, s):
        carried = b"".join(socket.inet_pton(socket.AF_INET6, a) for a in self.addresses)
        return struct.pack("!BBBBI", 59, 2 * len(self.addresses), self.rh_type,
                           self.segments_left, self.reserved) + carried + self.token


class SctpChunks(RawProto):
    """An SCTP packet of one chunk of the given type and flags (no valid
    checksum: nothing on the way checks it)."""

    def __init__(self, src, dst, chunk, flags, family=4):
        super().__init__(src, dst, 132, family)
        self.chunk, self.flags = chunk, flags

    def __str__(self):
        return f"{super().__str__()} chunk {self.chunk} flags {self.flags:#x}"

    def packet(self, src, dst, s):
        return struct.pack("!HHII", 5000, 5001, 0, 0) + \
            struct.pack("!BBH", self.chunk, self.flags, 4 + len(self.token)) + self.token


def mss(value):
    return struct.pack("!BBH", 2, 4, value)


class HttpServer:
    """Answers every request on the server's HTTP ports with RESPONSE."""

    def __init__(self, lab):
        self.listeners = []
        for port in (*HTTP_PORTS, 9000):
            s = lab.ns[S].socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ADDR[(S, 4)], port))
            s.listen(16)
            self.listeners.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    @classmethod
    def _serve(cls, listener):
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            # One thread each: a request the rules drop must not hold up the next.
            threading.Thread(target=cls._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn):
        with conn:
            conn.settimeout(TIMEOUT * 2)
            try:
                if conn.recv(1024):
                    conn.sendall(RESPONSE)
            except OSError:
                pass

    def close(self):
        for s in self.listeners:
            s.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept
            s.close()


class ContentMatchesTest(LabTestCase):

    def request(self, port, path):
        """'served' when the response came back, else 'timeout'."""
        s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
        with s:
            s.settimeout(TIMEOUT)
            try:
                s.connect((ADDR[(S, 4)], port))
                s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\n\r\n")
                data = b""
                while len(data) < len(RESPONSE):
                    chunk = s.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                return "served" if data == RESPONSE else f"got {data!r}"
            except socket.timeout:
                return "timeout"

    def connect_as(self, user, address, port):
        # The system python: one under /root is not for user nobody.
        args = ["/usr/bin/python3", "-c", CONNECT % TIMEOUT, address, str(port)]
        if user != "root":
            args = ["setpriv", f"--reuid={user}", "--regid=65534", "--clear-groups", *args]
        return self.lab.ns[R].run(args).stdout.strip()

    def test_content_and_owner_as_the_kernel(self):
        http = HttpServer(self.lab)
        self.addCleanup(http.close)
        expected = {
            "GET /admin": "timeout", "GET /": "served", "GET /secret": "timeout",
            "GET / to 57": "timeout", "GET / to 56": "served",
            "mac 8083": "timeout", "mac 8084": "served",
            "nobody 9000": "timeout", "root 9000": "open", "root 9001": "refused",
        }

        def body(side):
            outcomes = {
                "GET /admin": self.request(80, "/admin"),
                "GET /": self.request(80, "/"),
                "GET /secret": self.request(80, "/SeCrEt"),
                "GET / to 57": self.request(8081, "/"),
                "GET / to 56": self.request(8082, "/"),
                "mac 8083": self.request(8083, "/"),
                "mac 8084": self.request(8084, "/"),
                "nobody 9000": self.connect_as("nobody", ADDR[(S, 4)], 9000),
                "root 9000": self.connect_as("root", ADDR[(S, 4)], 9000),
                "root 9001": self.connect_as("root", ADDR[("router-lo", 4)], 9001),
            }
            counters = {}
            for listing in side.listings("filter", "-v", "-x", "-n"):
                listing_counters(listing, "filter", counters)
            return outcomes, counters

        def compare(results):
            (kernel, kernel_counts), (ours, our_counts) = results
            for name, counts in sorted(kernel_counts.items()):
                print(f"{name}: kernel {counts}, verdictd {our_counts.get(name)}",
                      file=sys.stderr)
            self.assertEqual(ours, kernel)
            self.assertEqual(kernel, expected)
            # The drops' retransmissions depend on timing; the rest must agree exactly.
            timed = {"admin", "secret any case", "ends at to", "client mac", "nobody blocked",
                     "not root"}
            for name, counts in kernel_counts.items():
                if name[2] in timed:
                    self.assertGreater(counts[0], 0, name)
                    self.assertGreater(our_counts[name][0], 0, name)
                elif name[2] != "policy":
                    self.assertEqual(our_counts[name], counts, name)
            for name in ("served", "root counted", "reset with socket"):
                self.assertGreater(kernel_counts[("filter", "FORWARD" if name == "served"
                                                  else "OUTPUT", name)][0], 0, name)

        self.against_the_kernel(RULESET, body, compare=compare)

    def test_header_matches_as_the_kernel(self):
        probes = []
        for family in (4, 6):
            def seg(port, tos=0, flags="SYN", options=b""):
                return TcpWithHeader(C, S, port, flags, family, tos, options)
            probes += [
                (seg(7001, tos=0x28), "dropped"), (seg(7001, tos=0x2b), "dropped"),
                (seg(7001, tos=0x2c), "delivered"),
                (seg(7002, tos=0xb8), "delivered"), (seg(7002, tos=0x00), "dropped"),
                (seg(7003, tos=0xf7), "dropped"), (seg(7003, tos=0x08), "delivered"),
                (seg(7004, tos=0x50), "delivered"), (seg(7004, tos=0x18), "dropped"),
                (seg(7005, tos=0x02, flags="CWR"), "dropped"),
                (seg(7005, tos=0x02, flags="CWR,ECE"), "delivered"),
                (seg(7005, tos=0x01, flags="CWR"), "delivered"),
                (seg(7006, options=mss(1460)), "dropped"),
                (seg(7006, options=b"\1\1" + mss(1000)), "dropped"),
                (seg(7006, options=mss(999)), "delivered"),
                (seg(7006, flags="ACK", options=mss(1200)), "dropped"),
                (seg(7007), "dropped"), (seg(7007, options=mss(536)), "delivered"),
                (seg(7007, options=b"\2\3\2\x18"), "dropped"),
                (SctpChunks(C, S, 1, 0, family), "dropped"),
                (SctpChunks(C, S, 0, 0x06, family), "delivered"),
                (SctpChunks(C, S, 0, 0x03, family), "dropped"),
                (SctpChunks(C, S, 3, 0, family), "dropped"),
                (IpsecHeader(C, S, 50, 300, family), "dropped"),
                (IpsecHeader(C, S, 50, 600, family), "delivered"),
            ]
        probes += [
            # u32 reads IPv4's offsets: an IPv6 header has other words there.
            (TcpWithHeader(C, S, 7008, "SYN", 4, 0x28), "dropped"),
            (TcpWithHeader(C, S, 7008, "SYN", 4, 0x2c), "delivered"),
            (TcpWithHeader(C, S, 7008, "SYN", 6, 0x28), "delivered"),
            (TcpWithHeader(C, S, 7009, "SYN", 4), "dropped"),
            (TcpWithHeader(C, S, 7009, "SYN", 6), "delivered"),
            (DestinationOptions(C, S, 59), "dropped"),
            (DestinationOptions(C, S, 17), "delivered"),
            (RawProto(C, S, 59, 6), "delivered"),
            (IpsecHeader(C, S, 51, 500, 4), "dropped"),
            (IpsecHeader(C, S, 51, 501, 4), "delivered"),
            (IpsecHeader(C, S, 51, 500, 6), "dropped"),  # not 1000-2000, 24 bytes long
            (IpsecHeader(C, S, 51, 1500, 6), "delivered"),
        ]
        # Options valid for the stacks on the way (known or skippable types,
        # at most 7 bytes of padding in a row): router alert 5, Pad1 0, PadN
        # 1, and type 30 (skipped when unknown).
        hbh, dst = socket.IPV6_HOPOPTS, socket.IPV6_DSTOPTS
        probes += [
            (OptionsBySocket(C, S, hbh, bytes([5, 2, 0, 0, 0, 1, 1, 0, 30, 4, 1, 2, 3, 4])),
             "dropped"),  # 5:2,0,1 in order
            (OptionsBySocket(C, S, hbh, bytes([5, 2, 0, 0, 1, 0, 30, 6, 1, 2, 3, 4, 5, 6])),
             "delivered"),  # PadN, not Pad1
            (OptionsBySocket(C, S, hbh, bytes([5, 2, 0, 0, 0, 0, 1, 0, 30, 4, 1, 2, 3, 4])),
             "delivered"),  # Pad1 is one byte: the third is Pad1 again
            (OptionsBySocket(C, S, hbh, bytes([30, 4, 1, 2, 3, 4])), "delivered"),  # 8 bytes
            (OptionsBySocket(C, S, hbh, bytes([30, 12]) + bytes(range(1, 13))), "dropped"),
            (OptionsBySocket(C, S, dst, bytes([30, 4, 1, 2, 3, 4])),
             "delivered"),  # the list runs past the header
            (OptionsBySocket(C, S, dst, bytes([30, 4, 1, 2, 3, 4, 0, 30, 5, 1, 2, 3, 4, 5])),
             "dropped"),
            (OptionsBySocket(C, S, dst, bytes([30, 5, 1, 2, 3, 4, 5, 0, 30, 4, 1, 2, 3, 4])),
             "delivered"),
            (OptionsBySocket(C, S, dst, bytes([30, 20]) + bytes(range(1, 21))), "dropped"),
            (RoutingHeader(C, S, 0, 2, ("fd00::a", "fd00::b")), "dropped"),
            (RoutingHeader(C, S, 0, 2, ("fd00::a", "fd00::b", "fd00::c")), "dropped"),
            (RoutingHeader(C, S, 0, 2, ("fd00::c", "fd00::a", "fd00::b")), "delivered"),
            (RoutingHeader(C, S, 0, 2, ("fd00::a", "fd00::b", "fd00::c"), 1), "delivered"),
            (RoutingHeader(C, S, 0, 3, ("fd00::a", "fd00::b")), "delivered"),
            (RoutingHeader(C, S, 253, 1), "dropped"),
            (RoutingHeader(C, S, 253, 0), "delivered"),
            (RoutingHeader(C, S, 0, 1), "delivered"),
        ]
        self.check_scenario("header_matches", [probes])


if __name__ == "__main__":
    unittest.main()
