"""Traffic for the connection-tracking tests (test_conntrack.py).

Crafted packets: hand-made frames (scapy) put straight onto the client's or
the server's wire towards the router, one at a time, so that each packet's
connection state can be read off the router's counting rules before the next
is sent. The end hosts' own stacks are silenced meanwhile (an INPUT DROP in
their namespaces), so nothing but the crafted packets crosses the router: a
crafted SYN-ACK must not draw a RST from the client's kernel.

Real sockets: a UDP echo probe (request and answer, or the ICMP error that
refuses it), an echo session over TCP that sends a line every 100 ms, and the
churn load (many short TCP connections per second), which runs as a
subprocess in the client namespace: `python3 ct_probes.py churn ...`.
"""

import ctypes
import errno
import os
import selectors
import socket
import struct
import sys
import threading
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6TimeExceeded, IPv6)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from lab import ADDR, CLIENT, SERVER, link_mac
from probes import Probe, _ns_of, address

# ---- crafted packets ----

# Which link each end host sends on, and the router's MAC at its other end.
_WIRE = {CLIENT: ("client-eth0", "router-lan0"), SERVER: ("server-eth0", "router-wan0")}


def peer(side):
    return SERVER if side == CLIENT else CLIENT


def ip_header(family, src, dst, ttl=None):
    """An IPv4 or IPv6 header from one end host to another (or the router)."""
    src, dst = ADDR[(src, family)], ADDR[(dst, family)]
    if family == 4:
        return IP(src=src, dst=dst) if ttl is None else IP(src=src, dst=dst, ttl=ttl)
    return IPv6(src=src, dst=dst) if ttl is None else IPv6(src=src, dst=dst, hlim=ttl)


def udp(family, side, sport, dport, ttl=None, payload=b"ct-test"):
    return ip_header(family, side, peer(side), ttl) / UDP(sport=sport, dport=dport) / payload


def echo(family, side, ident, seq=1, reply=False, dst=None):
    """An ICMP or ICMPv6 echo request (or reply) from `side` to `dst` (default: the other end)."""
    header = ip_header(family, side, dst or peer(side))
    if family == 4:
        return header / ICMP(type=0 if reply else 8, id=ident, seq=seq) / b"ct-test!"
    kind = ICMPv6EchoReply if reply else ICMPv6EchoRequest
    return header / kind(id=ident, seq=seq, data=b"ct-test!")


def icmp_error(family, side, quoted, kind):
    """An ICMP error from `side` quoting the IP packet `quoted` (as its
    receiver saw it): kind "port-unreachable" or "time-exceeded"."""
    header = ip_header(family, side, peer(side))
    inner = Raw(bytes(quoted))
    if family == 4:
        type_code = {"port-unreachable": (3, 3), "time-exceeded": (11, 0)}[kind]
        return header / ICMP(type=type_code[0], code=type_code[1]) / inner
    if kind == "port-unreachable":
        return header / ICMPv6DestUnreach(code=4) / inner
    return header / ICMPv6TimeExceeded(code=0) / inner


class TcpTalk:
    """Both ends of one TCP connection, keeping their sequence numbers, so
    every segment is in window for the kernel's TCP tracker."""

    def __init__(self, family, client_port, server_port, client_isn=1_000_000):
        self.family = family
        self.ports = {CLIENT: (client_port, server_port), SERVER: (server_port, client_port)}
        self.next_seq = {CLIENT: client_isn, SERVER: 7_000_000}

    def segment(self, side, flags, payload=b"", seq_offset=0, advance=True):
        """The next segment `side` sends ("S", "SA", "A", "PA", "FA", "R",
        ...); with advance=False the connection goes on as if it was never
        sent, and seq_offset moves its sequence number."""
        sport, dport = self.ports[side]
        seq = self.next_seq[side] + seq_offset
        ack = self.next_seq[peer(side)] if "A" in flags else 0
        if advance:
            self.next_seq[side] += len(payload) + ("S" in flags) + ("F" in flags)
        return (ip_header(self.family, side, peer(side))
                / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535)
                / payload)


class Wire:
    """Raw (AF_PACKET) sockets on the client's and the server's eth0."""

    def __init__(self, lab):
        self.sockets = {}
        for side in (CLIENT, SERVER):
            s = lab.ns[side].socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            s.bind(("eth0", 0))
            self.sockets[side] = s

    def send(self, side, packet):
        """Sends one IP packet, or each of a list of them (fragments) in turn."""
        own, router = _WIRE[side]
        for one in packet if isinstance(packet, list) else [packet]:
            self.sockets[side].send(bytes(Ether(src=link_mac(own), dst=link_mac(router)) / one))

    def close(self):
        for s in self.sockets.values():
            s.close()


def silence_end_hosts(lab, silent):
    """Drops (silent=True) or accepts again everything arriving at the client
    and the server, so their stacks never answer crafted packets."""
    for side in (CLIENT, SERVER):
        for tool in ("iptables-legacy", "ip6tables-legacy"):
            lab.ns[side].run([tool, "-P", "INPUT", "DROP" if silent else "ACCEPT"])


# ---- real sockets ----

class UdpEcho(Probe):
    """A datagram to a UDP echo server at the destination (one per address
    and port, which the phase's probes share), or to no server, with
    closed=True: "answered" when the echo came back, "refused" when an ICMP
    port unreachable did, "lost" otherwise."""

    def __init__(self, src, dst, port, family=4, closed=False):
        super().__init__(src, dst, family)
        self.port, self.closed = port, closed

    def __str__(self):
        return f"udp-echo{self.family} {self.src} -> {self.dst}:{self.port}" + \
            (" (closed)" if self.closed else "")

    def start(self, phase):
        fam = socket.AF_INET if self.family == 4 else socket.AF_INET6
        target = address(self.dst, self.family)
        if not self.closed:
            def open_server():
                server = phase.lab.ns[_ns_of(self.dst)].socket(fam, socket.SOCK_DGRAM)
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind((target, self.port))
                server.setblocking(False)
                phase.watch(server, selectors.EVENT_READ, _echo_datagrams)
                return server
            phase.shared_socket(("udp-echo", _ns_of(self.dst), target, self.port), open_server)
        s = phase.lab.ns[_ns_of(self.src)].socket(fam, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((target, self.port))
        self.socket = s
        phase.watch(s, selectors.EVENT_READ, self._answer)
        try:
            s.send(self.token)
        except PermissionError:
            pass

    def _answer(self, phase, s):
        try:
            if s.recv(2048) == self.token:
                self.result = "answered"
        except ConnectionRefusedError:
            self.result = "refused"
        except OSError:
            pass

    def finish(self, phase):
        return "lost"


def _echo_datagrams(phase, s):
    try:
        data, peer_address = s.recvfrom(2048)
        s.sendto(data, peer_address)
    except OSError:
        pass


def enter_namespace_for_good(lab, where):
    """Moves the calling thread into a lab namespace for the rest of its
    life (for threads that only ever work there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{lab.ns[where].name}", os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


class EchoSession:
    """A long-lived TCP session through the router, like an interactive
    shell: the client sends a numbered line every `interval`, the server
    echoes it. `echoed` counts the lines that came back; `times` when."""

    def __init__(self, lab, family, port, interval=0.1):
        self.lab, self.family, self.port, self.interval = lab, family, port, interval
        fam = socket.AF_INET if family == 4 else socket.AF_INET6
        self.listener = lab.ns[SERVER].socket(fam, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((ADDR[(SERVER, family)], port))
        self.listener.listen(4)
        self.client = lab.ns[CLIENT].socket(fam, socket.SOCK_STREAM)
        self.client.settimeout(3)
        self.client.connect((ADDR[(SERVER, family)], port))
        self.listener.settimeout(3)
        self.served, _ = self.listener.accept()
        self.echoed_times = []
        self.sent = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._serve, daemon=True),
                        threading.Thread(target=self._talk, daemon=True),
                        threading.Thread(target=self._listen, daemon=True)]
        for t in self.threads:
            t.start()

    def _serve(self):
        with self.served:
            while not self.stopping.is_set():
                try:
                    data = self.served.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                self.served.sendall(data)

    def _talk(self):
        while not self.stopping.is_set():
            try:
                self.client.sendall(b"line %d\n" % self.sent)
            except OSError:
                return
            self.sent += 1
            time.sleep(self.interval)

    def _listen(self):
        self.client.settimeout(0.5)
        pending = b""
        while not self.stopping.is_set():
            try:
                data = self.client.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            pending += data
            while b"\n" in pending:
                _, pending = pending.split(b"\n", 1)
                self.echoed_times.append(time.monotonic())

    def echoed_since(self, when):
        return sum(1 for t in self.echoed_times if t >= when)

    def close(self):
        self.stopping.set()
        for s in (self.client, self.listener):
            s.close()
        for t in self.threads:
            t.join(timeout=2)


# ---- churn: many short connections, as a program in the client namespace ----

def churn(server, port, rate, seconds, keep):
    """Opens `rate` TCP connections a second to server:port for `seconds`,
    each closed with a reset right after the handshake (the kernel's
    conntrack then holds it 10 s in CLOSE); `keep` more, to port + 1, stay
    open for the whole run and until stdin closes. Prints "opened N failed F"."""
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    kept = []
    for _ in range(keep):
        s = socket.create_connection((server, port + 1), timeout=3)
        kept.append(s)
    opened = failed = 0
    start = time.monotonic()
    sel = selectors.DefaultSelector()
    pending = {}
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        due = int((now - start) * rate) - (opened + failed + len(pending))
        for _ in range(max(0, due)):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            err = s.connect_ex((server, port))
            if err not in (0, errno.EINPROGRESS):
                failed += 1
                s.close()
                continue
            pending[s] = now
            sel.register(s, selectors.EVENT_WRITE)
        for key, _ in sel.select(0.002):
            s = key.fileobj
            sel.unregister(s)
            del pending[s]
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                opened += 1
            else:
                failed += 1
            s.close()
        for s, began in list(pending.items()):
            if now - began > 3:
                sel.unregister(s)
                del pending[s]
                failed += 1
                s.close()
    for s in list(pending):
        s.close()
        failed += 1
    print(f"opened {opened} failed {failed}", flush=True)
    sys.stdin.read()  # the kept connections live until the test says so
    for s in kept:
        s.close()


def churn_server(port):
    """Accepts TCP connections (dual-stack) until killed: on `port` closes
    each at once, on `port` + 1 keeps each open."""
    listeners = []
    for offset in (0, 1):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port + offset))
        s.listen(4096)
        listeners.append(s)
    kept = []
    sel = selectors.DefaultSelector()
    for s in listeners:
        sel.register(s, selectors.EVENT_READ)
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            conn, _ = key.fileobj.accept()
            if key.fileobj is listeners[0]:
                conn.close()
            else:
                kept.append(conn)

if __name__ == "__main__":
    if sys.argv[1] == "churn":
        churn(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
    elif sys.argv[1] == "churn-server":
        churn_server(int(sys.argv[2]))
