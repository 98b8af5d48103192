"""Traffic probes: real TCP connections, UDP datagrams, pings, and crafted
packets whose arrival a raw socket at the destination watches for.

A list of probes runs as one phase: servers and observers are opened first,
then every probe starts at once, and one select loop follows them all until
each has its outcome or the phase deadline passes (then the undecided ones
were blocked). So a phase costs about one timeout however many probes it has.

Each probe carries a random token (in its payload, or its ICMP id) so
concurrent probes never mistake each other's packets.

A locally generated packet that the kernel's OUTPUT chain drops fails the
send with EPERM; a packet verdictd drops was queued, so its send succeeded.
NFQUEUE cannot do otherwise, and both mean the packet never left: the probes
treat a send refused with EPERM as sent and lost.
"""

import errno
import os
import selectors
import socket
import struct
import time

from lab import ADDR, ROUTER

PHASE_TIMEOUT = 1.0  # about TCP's first SYN retransmission: a blocked connect sends one or two SYNs

IPPROTO_ICMPV6 = socket.IPPROTO_ICMPV6
IPV6_CHECKSUM = 7

TCP_FLAGS = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10, "URG": 0x20,
             "ECE": 0x40, "CWR": 0x80}


def address(where, family):
    """ADDR lookup that also accepts a literal address."""
    if ":" in where or where.replace(".", "").isdigit():
        return where
    return ADDR[(where, family)]


def _ns_of(where):
    """The namespace that owns a symbolic destination ("router-wan" is the router)."""
    return ROUTER if where == "router-wan" else where


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _send_or_lose(send, *args):
    """Sends; a packet the local OUTPUT chain refused (EPERM) counts as lost."""
    try:
        send(*args)
    except PermissionError:
        pass


class Probe:
    """One question about the network with a short string answer."""

    def __init__(self, src, dst, family):
        self.src, self.dst, self.family = src, dst, family
        self.token = os.urandom(8)
        self.result = None

    @property
    def done(self):
        return self.result is not None

    def needs(self):
        """Observers this probe reads: [(namespace, family, proto)]."""
        return []

    def start(self, phase):
        raise NotImplementedError

    def finish(self, phase):
        """The outcome at the deadline, for probes still undecided."""
        raise NotImplementedError


class Tcp(Probe):
    """A TCP connect: "open", "refused", "timeout" (or "error:ENAME")."""

    def __init__(self, src, dst, port, family=4, src_addr=None):
        super().__init__(src, dst, family)
        self.port, self.src_addr = port, src_addr

    def __str__(self):
        via = f" from {self.src_addr}" if self.src_addr else ""
        return f"tcp{self.family} {self.src}{via} -> {self.dst}:{self.port}"

    def start(self, phase):
        fam = socket.AF_INET if self.family == 4 else socket.AF_INET6
        s = phase.lab.ns[_ns_of(self.src)].socket(fam, socket.SOCK_STREAM)
        self.socket = s
        s.setblocking(False)
        # Reset on close: no FIN exchange trailing into the next phase.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if self.src_addr:
            s.bind((self.src_addr, 0))
        err = s.connect_ex((address(self.dst, self.family), self.port))
        if err not in (0, errno.EINPROGRESS):
            self.result = "error:" + errno.errorcode.get(err, str(err))
            s.close()
            return
        phase.watch(s, selectors.EVENT_WRITE, self._connected)

    def _connected(self, phase, s):
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self.result = {0: "open", errno.ECONNREFUSED: "refused"}.get(
            err, "error:" + errno.errorcode.get(err, str(err)))
        phase.unwatch(s)
        s.close()

    def finish(self, phase):
        return "timeout"


class Udp(Probe):
    """Datagrams to a UDP server: "received" when the server got them all,
    "refused" when an ICMP port unreachable came back, "lost" otherwise; with
    count > 1, "received N/M". Needs phase servers on the port (or none, to
    see the ICMP error)."""

    def __init__(self, src, dst, port, family=4, count=1, src_addr=None, ttl=None, size=None,
                 options=False):
        super().__init__(src, dst, family)
        self.port, self.count, self.src_addr, self.ttl, self.size = port, count, src_addr, ttl, size
        self.options = options  # IPv4 header options, or an IPv6 destination options header

    def __str__(self):
        via = f" from {self.src_addr}" if self.src_addr else ""
        extra = "".join(f" {k}={v}" for k, v in (("ttl", self.ttl), ("size", self.size)) if v)
        extra += " with options" if self.options else ""
        n = f" x{self.count}" if self.count > 1 else ""
        return f"udp{self.family} {self.src}{via} -> {self.dst}:{self.port}{extra}{n}"

    def start(self, phase):
        self.refused = False
        fam = socket.AF_INET if self.family == 4 else socket.AF_INET6
        s = phase.lab.ns[_ns_of(self.src)].socket(fam, socket.SOCK_DGRAM)
        s.setblocking(False)
        if self.src_addr:
            s.bind((self.src_addr, 0))
        if self.ttl is not None:
            if self.family == 4:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, self.ttl)
            else:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, self.ttl)
        if self.options and self.family == 4:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b"\x01\x01\x01\x00")  # NOPs, end
        elif self.options:
            # Next header (the kernel fills it in), length 0, a PadN of 4 bytes.
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, b"\x00\x00\x01\x04\x00\x00\x00\x00")
        s.connect((address(self.dst, self.family), self.port))
        payload = self.token + b"x" * max(0, (self.size or 8) - len(self.token))
        for _ in range(self.count):
            _send_or_lose(s.send, payload)
        self.socket = s
        phase.watch(s, selectors.EVENT_READ, self._error)
        phase.on_tick(self._check)

    def _error(self, phase, s):
        try:
            s.recv(2048)
        except ConnectionRefusedError:
            self.refused = True
            self.result = "refused"
        except OSError:
            pass

    def _check(self, phase):
        if phase.udp_received.get(self.token, 0) >= self.count:
            self.result = "received" if self.count == 1 else f"received {self.count}/{self.count}"

    def finish(self, phase):
        got = phase.udp_received.get(self.token, 0)
        if self.count > 1:
            return f"received {got}/{self.count}"
        return "refused" if self.refused else "lost"


class Ping(Probe):
    """ICMP or ICMPv6 echo requests: "reply", or "none" (count > 1: "N/M replies")."""

    def __init__(self, src, dst, family=4, count=1, interval=0.0):
        super().__init__(src, dst, family)
        self.count, self.interval = count, interval
        self.ident = int.from_bytes(self.token[:2], "big")

    def __str__(self):
        n = f" x{self.count}" if self.count > 1 else ""
        return f"ping{self.family} {self.src} -> {self.dst}{n}"

    def start(self, phase):
        self.replies = set()
        if self.family == 4:
            s = phase.lab.ns[_ns_of(self.src)].socket(socket.AF_INET, socket.SOCK_RAW,
                                                      socket.IPPROTO_ICMP)
        else:
            s = phase.lab.ns[_ns_of(self.src)].socket(socket.AF_INET6, socket.SOCK_RAW,
                                                      IPPROTO_ICMPV6)
        s.setblocking(False)
        self.socket = s
        self.target = address(self.dst, self.family)
        phase.watch(s, selectors.EVENT_READ, self._reply)
        self.sent = 0
        self._send(phase)

    def _send(self, phase):
        kind = 8 if self.family == 4 else 128
        body = struct.pack("!HH", self.ident, self.sent) + self.token
        header = struct.pack("!BBH", kind, 0, 0)
        csum = _checksum(header + body) if self.family == 4 else 0  # the kernel sums ICMPv6
        _send_or_lose(self.socket.sendto, struct.pack("!BBH", kind, 0, csum) + body, (self.target, 0))
        self.sent += 1
        if self.sent < self.count:
            phase.later(self.interval, self._send)

    def _reply(self, phase, s):
        data = s.recv(2048)
        if self.family == 4:
            data = data[(data[0] & 0x0F) * 4:]
        reply = 0 if self.family == 4 else 129
        if len(data) >= 16 and data[0] == reply and data[8:16] == self.token:
            ident, seq = struct.unpack("!HH", data[4:8])
            if ident == self.ident:
                self.replies.add(seq)
        if len(self.replies) == self.count:
            self.result = "reply" if self.count == 1 else f"{self.count}/{self.count} replies"

    def finish(self, phase):
        if self.count == 1:
            return "none"
        return f"{len(self.replies)}/{self.count} replies"


class _Crafted(Probe):
    """A hand-made packet sent through a raw socket; "delivered" when the raw
    observer at the destination saw it, else "dropped"."""

    proto = None

    def needs(self):
        return [(_ns_of(self.dst), self.family, self.proto)]

    def start(self, phase):
        fam = socket.AF_INET if self.family == 4 else socket.AF_INET6
        s = phase.lab.ns[_ns_of(self.src)].socket(fam, socket.SOCK_RAW, self.proto)
        src = address(self.src, self.family)
        dst = address(self.dst, self.family)
        try:
            s.bind((src, 0))
            _send_or_lose(s.sendto, self.packet(src, dst, s), (dst, 0))
        finally:
            s.close()
        phase.on_tick(self._check)

    def marker(self):
        """Bytes of the packet that tell it from every other one."""
        return self.token

    def _check(self, phase):
        if phase.seen(_ns_of(self.dst), self.family, self.proto, self.marker()):
            self.result = "delivered"

    def finish(self, phase):
        return "dropped"


class RawTcp(_Crafted):
    """A TCP segment with the given flags (e.g. "SYN", "FIN,PSH,URG", "")."""

    proto = socket.IPPROTO_TCP

    def __init__(self, src, dst, port, flags, family=4):
        super().__init__(src, dst, family)
        self.port, self.flags = port, flags

    def __str__(self):
        return f"raw-tcp{self.family} {self.src} -> {self.dst}:{self.port} [{self.flags or 'NONE'}]"

    def packet(self, src, dst, s):
        bits = 0
        for name in filter(None, self.flags.split(",")):
            bits |= TCP_FLAGS[name]
        sport = 40000 + int.from_bytes(self.token[:2], "big") % 20000
        header = struct.pack("!HHIIBBHHH", sport, self.port, 1000, 0, 5 << 4, bits, 8192, 0, 0)
        segment = header + self.token
        if self.family == 6:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 16)  # the kernel fills it in
            return segment
        pseudo = (socket.inet_aton(src) + socket.inet_aton(dst)
                  + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(segment)))
        csum = _checksum(pseudo + segment)
        return segment[:16] + struct.pack("!H", csum) + segment[18:]


class RawIcmp(_Crafted):
    """An ICMP (family 4) or ICMPv6 (family 6) message of any type/code."""

    def __init__(self, src, dst, kind, code=0, family=4):
        super().__init__(src, dst, family)
        self.kind, self.code = kind, code
        self.proto = socket.IPPROTO_ICMP if family == 4 else IPPROTO_ICMPV6

    def __str__(self):
        return f"raw-icmp{self.family} {self.src} -> {self.dst} type {self.kind}/{self.code}"

    def packet(self, src, dst, s):
        body = b"\0\0\0\0" + self.token * 4
        if self.family == 6:
            return struct.pack("!BBH", self.kind, self.code, 0) + body
        csum = _checksum(struct.pack("!BBH", self.kind, self.code, 0) + body)
        return struct.pack("!BBH", self.kind, self.code, csum) + body


class RawProto(_Crafted):
    """A packet of any IP protocol number whose payload is `size` bytes of
    the token repeated: with a small size, a truncated TCP, UDP or ICMP
    header."""

    def __init__(self, src, dst, proto, family=4, size=16):
        super().__init__(src, dst, family)
        self.proto, self.size = proto, size

    def __str__(self):
        return f"raw-proto{self.family} {self.src} -> {self.dst} protocol {self.proto} " \
               f"{self.size} bytes"

    def marker(self):
        # The kernel writes an ICMPv6 checksum over bytes 2-3.
        return self.packet(None, None, None)[4 if self.proto == IPPROTO_ICMPV6 else 0:]

    def packet(self, src, dst, s):
        return (self.token * (self.size // len(self.token) + 1))[:self.size]


class Servers:
    """TCP listeners and UDP sinks, dual-stack, in a namespace. A listener
    completes handshakes on its own (the accept queue); the phase loop
    accepts and closes so the queue never fills."""

    def __init__(self, lab, tcp=None, udp=None):
        self.sockets = []
        for where, ports in (tcp or {}).items():
            for port in ports:
                s = lab.ns[where].socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("::", port))
                s.listen(512)
                s.setblocking(False)
                self.sockets.append(("tcp", s))
        for where, ports in (udp or {}).items():
            for port in ports:
                s = lab.ns[where].socket(socket.AF_INET6, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                s.bind(("::", port))
                s.setblocking(False)
                self.sockets.append(("udp", s))

    def close(self):
        for _, s in self.sockets:
            s.close()
        self.sockets.clear()


class Phase:
    """Runs probes concurrently; see the module text."""

    def __init__(self, lab, servers, timeout):
        self.lab, self.servers, self.timeout = lab, servers, timeout
        self.selector = selectors.DefaultSelector()
        self.tick_callbacks = []
        self.timers = []  # (when, callback)
        self.udp_received = {}
        self.observers = {}
        self.observed = {}
        self.accepted = []

    def watch(self, s, events, callback):
        self.selector.register(s, events, callback)

    def unwatch(self, s):
        self.selector.unregister(s)

    def on_tick(self, callback):
        self.tick_callbacks.append(callback)

    def later(self, delay, callback):
        self.timers.append((time.monotonic() + delay, callback))

    def seen(self, where, family, proto, token):
        return any(token in data for data in self.observed.get((where, family, proto), []))

    def _observe(self, key, s):
        try:
            while True:
                self.observed[key].append(s.recv(65535))
        except BlockingIOError:
            pass

    def _server_readable(self, kind, s):
        try:
            while True:
                if kind == "tcp":
                    # Kept open until the phase ends: closing now could reset
                    # the connection before the client saw it established.
                    self.accepted.append(s.accept()[0])
                else:
                    data = s.recv(65535)
                    token = data[:8]
                    self.udp_received[token] = self.udp_received.get(token, 0) + 1
        except BlockingIOError:
            pass

    def run(self, probes):
        for probe in probes:
            for key in probe.needs():
                if key not in self.observers:
                    where, family, proto = key
                    fam = socket.AF_INET if family == 4 else socket.AF_INET6
                    s = self.lab.ns[where].socket(fam, socket.SOCK_RAW, proto)
                    s.setblocking(False)
                    self.observers[key] = s
                    self.observed[key] = []
                    self.selector.register(s, selectors.EVENT_READ,
                                           lambda phase, sock, key=key: phase._observe(key, sock))
        for kind, s in self.servers.sockets if self.servers else []:
            self.selector.register(s, selectors.EVENT_READ,
                                   lambda phase, sock, kind=kind: phase._server_readable(kind, sock))
        try:
            for probe in probes:
                probe.start(self)
            deadline = time.monotonic() + self.timeout
            while True:
                for callback in self.tick_callbacks:
                    callback(self)
                if all(p.done for p in probes):
                    break
                now = time.monotonic()
                if now >= deadline:
                    break
                due = [t for t in self.timers if t[0] <= now]
                self.timers = [t for t in self.timers if t[0] > now]
                for _, callback in due:
                    callback(self)
                wait = min([deadline - now] + [t[0] - now for t in self.timers] + [0.05])
                for key, _ in self.selector.select(max(wait, 0)):
                    key.data(self, key.fileobj)
            for probe in probes:
                if not probe.done:
                    probe.result = probe.finish(self)
                sock = getattr(probe, "socket", None)
                if sock is not None:
                    sock.close()
        finally:
            self.selector.close()
            for s in list(self.observers.values()) + self.accepted:
                s.close()
        return {str(p): p.result for p in probes}


def run_probes(lab, probes, servers=None, timeout=PHASE_TIMEOUT):
    """Runs probes as one phase; returns {description: outcome}."""
    names = [str(p) for p in probes]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"probes must be distinct: {sorted(duplicates)}")
    for p in probes:
        p.result = None
    return Phase(lab, servers, timeout).run(probes)
