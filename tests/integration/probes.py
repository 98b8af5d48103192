"""Traffic probes: real TCP connections, UDP datagrams, pings, and crafted
packets whose arrival a raw socket at the destination watches for.

A list of probes runs as one phase: servers and observers are opened first,
then every probe starts at once, and one select loop follows them all until
each has its outcome or the phase deadline passes (then the undecided ones
were blocked). So a phase costs about one timeout however many probes it has.

Each probe carries a random token (in its payload, or its ICMP id) so
concurrent probes never mistake each other's packets.

The phase's TCP servers echo what they read and remember, by the token that
starts each stream, how much they got, its digest and how the stream ended:
a TCP probe can prove that data went both ways, not just the handshake.

A locally generated packet that the kernel's OUTPUT chain drops fails the
send with EPERM; a packet verdictd drops was queued, so its send succeeded.
NFQUEUE cannot do otherwise, and both mean the packet never left: the probes
treat a send refused with EPERM as sent and lost.
"""

import contextlib
import errno
import hashlib
import os
import random
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
    """The namespace that owns a symbolic destination ("router-wan" and
    "router-lo" are the router)."""
    return ROUTER if where.startswith(ROUTER + "-") else where


def checksum(data):
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _abort_on_close(s):
    """Makes close() reset the connection (SO_LINGER 0), also when data is
    still queued: no orphaned socket goes on retransmitting."""
    with contextlib.suppress(OSError):  # already closed
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


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

    def wrap_up(self, phase):
        """Called for every probe once the phase is over, decided or not."""


class Tcp(Probe):
    """A TCP connect: "open", "refused", "timeout" (or "error:ENAME"). With
    give_up, a connection not made within that many seconds is abandoned as
    "timeout" before TCP sends its SYN again (after 1 s): a blocked connect
    then sends one SYN however long the phase lasts."""

    name = "tcp"

    def __init__(self, src, dst, port, family=4, src_addr=None, give_up=None):
        super().__init__(src, dst, family)
        self.port, self.src_addr, self.give_up = port, src_addr, give_up

    def __str__(self):
        via = f" from {self.src_addr}" if self.src_addr else ""
        return f"{self.name}{self.family} {self.src}{via} -> {self.dst}:{self.port}"

    def configure(self, s):
        """Socket options before the connect."""
        _abort_on_close(s)  # no FIN exchange trailing into the next phase

    def start(self, phase):
        self.connected = False
        fam = socket.AF_INET if self.family == 4 else socket.AF_INET6
        s = phase.lab.ns[_ns_of(self.src)].socket(fam, socket.SOCK_STREAM)
        self.socket = s
        s.setblocking(False)
        self.configure(s)
        if self.src_addr:
            s.bind((self.src_addr, 0))
        err = s.connect_ex((address(self.dst, self.family), self.port))
        if err not in (0, errno.EINPROGRESS):
            self.result = "error:" + errno.errorcode.get(err, str(err))
            s.close()
            return
        phase.watch(s, selectors.EVENT_WRITE, self._connected)
        if self.give_up is not None:
            phase.later(self.give_up, self._abandon)

    def _abandon(self, phase):
        if not self.done and not self.connected:
            self.result = "timeout"
            phase.unwatch(self.socket)
            self.socket.close()

    def _connected(self, phase, s):
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            self.connected = True
            self.established(phase, s)
            return
        self.result = {errno.ECONNREFUSED: "refused"}.get(
            err, "error:" + errno.errorcode.get(err, str(err)))
        phase.unwatch(s)
        s.close()

    def established(self, phase, s):
        """The handshake is done: a bare connect is all this probe asks."""
        self.result = "open"
        phase.unwatch(s)
        s.close()

    def finish(self, phase):
        return "timeout"


def _stream(token, size):
    """The bytes a TCP probe sends: its token, then bytes that follow from it
    (the same in every run of the probe)."""
    return token + random.Random(token).randbytes(size - len(token))


class TcpEcho(Tcp):
    """A TCP connection that carries data: `size` bytes (the token first) to
    a phase server, which echoes them. "open" only once the whole echo came
    back, so a firewall that passes the handshake but not the data gives "no
    echo"; "refused" and "timeout" as for Tcp. Closed with a reset."""

    name = "tcp-echo"

    def __init__(self, src, dst, port, family=4, size=64, src_addr=None, give_up=None):
        super().__init__(src, dst, port, family, src_addr, give_up)
        self.size = size

    def established(self, phase, s):
        self.payload = _stream(self.token, self.size)
        self.sent = self.received = 0
        self.digest = hashlib.sha256()
        self.eof = False
        self.talk(phase, s)

    def talk(self, phase, s):
        """Sends what the socket takes, reads what came, and goes on."""
        while self.sent < len(self.payload):
            try:
                self.sent += s.send(self.payload[self.sent:self.sent + 65536])
            except OSError:
                break  # full for now, or reset (the read below sees that)
        while not self.eof:
            try:
                data = s.recv(65536)
            except BlockingIOError:
                break
            except OSError:
                self.eof = True  # reset by the peer
                break
            if not data:
                self.eof = True
                break
            self.received += len(data)
            self.digest.update(data)
        self.progress(phase, s)
        if not self.done and s.fileno() >= 0:
            events = 0 if self.eof else selectors.EVENT_READ
            if self.sent < len(self.payload):
                events |= selectors.EVENT_WRITE
            if events:
                phase.rewatch(s, events, self.talk)
            else:
                phase.unwatch(s)

    def progress(self, phase, s):
        if self.received >= self.size:
            self.result = "open"
            phase.unwatch(s)
            s.close()

    def finish(self, phase):
        return "no echo" if self.connected else "timeout"


class TcpExchange(TcpEcho):
    """A whole TCP exchange with a phase server: connect, `size` bytes each
    way (the server echoes while the client still sends), then an end.
      end="fin"    the client shuts down its side once all is sent and closes
                   after the server's FIN: "closed".
      end="reset"  the client closes with a reset (SO_LINGER 0) once the echo
                   is complete, and waits until the server saw the reset:
                   "reset".
    Otherwise "refused", "timeout", or what got stuck. `transcript` holds
    what each side received: (length, digest) for the client and the server."""

    def __init__(self, src, dst, port, family=4, size=1000, end="fin", src_addr=None,
                 give_up=None):
        super().__init__(src, dst, port, family, size, src_addr, give_up)
        self.end = end
        self.name = {"fin": "tcp-close", "reset": "tcp-reset"}[end]

    def __str__(self):
        return f"{super().__str__()} {self.size} bytes"

    def configure(self, s):
        if self.end == "reset":
            super().configure(s)

    def established(self, phase, s):
        self.shut = False
        super().established(phase, s)

    def progress(self, phase, s):
        if self.end == "fin":
            if self.sent == len(self.payload) and not self.shut:
                with contextlib.suppress(OSError):  # reset meanwhile
                    s.shutdown(socket.SHUT_WR)
                self.shut = True
            if self.eof:
                self.result = "closed" if self.received == self.size else \
                    f"closed early, {self.received}/{self.size} bytes back"
                phase.unwatch(s)
                s.close()
        elif self.received >= self.size:
            phase.unwatch(s)
            s.close()
            phase.on_tick(self._reset_seen)

    def _reset_seen(self, phase):
        served = phase.served.get(self.token)
        if not self.done and served is not None and served.end == "reset":
            self.result = "reset"

    def finish(self, phase):
        if not self.connected:
            return "timeout"
        _abort_on_close(self.socket)
        if self.received >= self.size:
            return "echoed, the server saw no reset"
        return f"stalled, {self.sent}/{self.size} bytes sent, {self.received} back"

    def wrap_up(self, phase):
        served = phase.served.get(self.token)
        mine = (self.received, self.digest.hexdigest()[:16]) if self.connected else (0, "")
        theirs = (served.received, served.digest.hexdigest()[:16]) if served else (0, "")
        self.transcript = {"client": mine, "server": theirs}


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
        csum = checksum(header + body) if self.family == 4 else 0  # the kernel sums ICMPv6
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
        csum = checksum(pseudo + segment)
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
        csum = checksum(struct.pack("!BBH", self.kind, self.code, 0) + body)
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
    accepts, echoes (see Served) and closes so the queue never fills."""

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


class Served:
    """One connection a phase server accepted: it echoes what it reads, and
    remembers (in the phase, by the token that starts the stream) how much
    it got, the digest, and how the stream ended: "eof" or "reset"."""

    def __init__(self, s):
        self.socket = s
        self.head = b""
        self.received = 0
        self.digest = hashlib.sha256()
        self.pending = bytearray()
        self.end = None

    def close(self):
        """At the end of the phase; a stream that did not end cleanly is
        aborted."""
        if self.end != "eof" or self.pending:
            _abort_on_close(self.socket)
        self.socket.close()

    def on_ready(self, phase, s):
        try:
            while self.end is None:
                data = s.recv(65536)
                if not data:
                    self.end = "eof"
                    break
                self._take(phase, data)
        except BlockingIOError:
            pass
        except OSError:
            self.end = "reset"
        try:
            while self.pending and self.end != "reset":
                del self.pending[:s.send(self.pending)]
        except BlockingIOError:
            pass
        except OSError:
            self.end = "reset"
        if self.end == "reset":
            phase.unwatch(s)
            s.close()
        elif self.end == "eof" and not self.pending:
            phase.unwatch(s)
            with contextlib.suppress(OSError):  # reset meanwhile
                s.shutdown(socket.SHUT_WR)
        else:
            events = (0 if self.end else selectors.EVENT_READ) | \
                (selectors.EVENT_WRITE if self.pending else 0)
            phase.rewatch(s, events, self.on_ready)

    def _take(self, phase, data):
        if len(self.head) < 8:
            self.head += data[:8 - len(self.head)]
            if len(self.head) == 8:
                phase.served[self.head] = self
        self.received += len(data)
        self.digest.update(data)
        self.pending += data


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
        self.accepted = []  # Served
        self.served = {}  # token -> Served, once its token arrived
        self.shared = {}  # key -> a socket probes share, see shared_socket

    def watch(self, s, events, callback):
        self.selector.register(s, events, callback)

    def rewatch(self, s, events, callback):
        self.selector.modify(s, events, callback)

    def unwatch(self, s):
        self.selector.unregister(s)

    def shared_socket(self, key, opener):
        """A socket several probes of the phase use (a server they all talk
        to), opened by the first that asks and closed with the phase."""
        if key not in self.shared:
            self.shared[key] = opener()
        return self.shared[key]

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
                    # Kept open until the client ends the stream or the phase
                    # ends: closing now could reset the connection before the
                    # client saw it established.
                    connection = s.accept()[0]
                    connection.setblocking(False)
                    served = Served(connection)
                    self.accepted.append(served)
                    self.watch(connection, selectors.EVENT_READ, served.on_ready)
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
                probe.wrap_up(self)
                sock = getattr(probe, "socket", None)
                if sock is not None:
                    sock.close()
        finally:
            self.selector.close()
            for s in list(self.observers.values()) + self.accepted + list(self.shared.values()):
                s.close()  # a Served among them aborts a stream left unfinished
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
