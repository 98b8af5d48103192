"""Traffic for the NAT tests (test_nat.py).

PeerServer   TCP and UDP servers in a lab namespace that answer every
             connection or datagram with the addresses they saw: the peer's
             (the source after any SNAT) and their own (the destination after
             any DNAT). So one answer tells what both translations did.
ask_tcp/ask_udp
             the client side: connect (or send), read that answer, and put it
             in words that do not depend on the ephemeral port the client
             happened to get ("kept" when the server saw the client's own
             source port, "changed" otherwise).
transfer     a large TCP transfer: a sender program in one namespace, a
             receiver program hashing what arrives in another (run as
             `python3 nat_probes.py send|receive ...`, so the two hash and copy
             on separate cores).
"""

import errno
import hashlib
import os
import selectors
import socket
import struct
import subprocess
import sys
import threading

MAPPED_V4_PREFIX = "::ffff:"


def plain_address(host):
    """An IPv4 peer of a dual-stack socket as the IPv4 address it is."""
    return host[len(MAPPED_V4_PREFIX):] if host.startswith(MAPPED_V4_PREFIX) else host


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class PeerServer:
    """Dual-stack TCP listeners and UDP sockets in one namespace, served by
    one thread until close(). The answer is one line, "PEER PEERPORT LOCAL
    LOCALPORT". TCP connections stay open until the client closes them, so a
    test can look at the connection while it lives."""

    def __init__(self, namespace, tcp_ports=(), udp_ports=()):
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        self.connections = []
        for port in tcp_ports:
            s = self._bind(namespace, socket.SOCK_STREAM, port)
            s.listen(512)
            self.selector.register(s, selectors.EVENT_READ, self._accept)
        for port in udp_ports:
            s = self._bind(namespace, socket.SOCK_DGRAM, port)
            self.selector.register(s, selectors.EVENT_READ, self._datagram)
        self.wake_read, self.wake_write = socket.socketpair()
        self.selector.register(self.wake_read, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _bind(self, namespace, kind, port):
        s = namespace.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
        s.setblocking(False)
        self.sockets.append(s)
        return s

    @staticmethod
    def _line(peer, local):
        return ("%s %d %s %d\n" % (plain_address(peer[0]), peer[1],
                                   plain_address(local[0]), local[1])).encode()

    def _accept(self, listener):
        try:
            conn, peer = listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        try:
            conn.send(self._line(peer, conn.getsockname()))
        except OSError:
            conn.close()
            return
        self.connections.append(conn)
        self.selector.register(conn, selectors.EVENT_READ, self._closed)

    def _closed(self, conn):
        try:
            if conn.recv(4096):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.selector.unregister(conn)
        self.connections.remove(conn)
        conn.close()

    def _datagram(self, s):
        try:
            while True:
                _, peer = s.recvfrom(2048)
                # The local address of a datagram needs IPV6_RECVPKTINFO; the
                # port is enough here, the DNAT tests check addresses by TCP.
                s.sendto(self._line(peer, ("-", s.getsockname()[1])), peer)
        except (BlockingIOError, ConnectionRefusedError):
            pass

    def _serve(self):
        while True:
            for key, _ in self.selector.select():
                if key.data is None:
                    return
                key.data(key.fileobj)

    def close(self):
        self.wake_write.send(b"x")
        self.thread.join(timeout=5)
        self.selector.close()
        for s in self.sockets + self.connections + [self.wake_read, self.wake_write]:
            s.close()


def describe(answer, own_port):
    """Words for a PeerServer answer, seen from a client whose source port
    was own_port."""
    peer, peer_port, local, local_port = answer.split()
    kept = "kept" if int(peer_port) == own_port else "changed"
    return f"seen as {peer} port {kept}, reached {local}:{local_port}"


def _error_name(err):
    return "error:" + errno.errorcode.get(err, str(err))


def open_tcp(namespace, host, port, bind=None, timeout=1.5):
    """A connected TCP socket, or a string saying why not ("refused",
    "timeout", "error:E...")."""
    s = namespace.socket(family_of(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if bind:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(bind)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        s.close()
        return "refused"
    except socket.timeout:
        s.close()
        return "timeout"
    except OSError as e:
        s.close()
        return _error_name(e.errno)
    return s


def read_answer(s):
    """The PeerServer line on a connected socket, or "no answer"."""
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data.decode() if data.endswith(b"\n") else None


def ask_tcp(namespace, host, port, bind=None, timeout=1.5, raw=False):
    """Connects, reads the PeerServer answer, resets the connection. Returns
    describe()'s words (the raw line with raw=True), or why it failed."""
    s = open_tcp(namespace, host, port, bind, timeout)
    if isinstance(s, str):
        return s
    with s:
        own_port = s.getsockname()[1]
        answer = read_answer(s)
    if answer is None:
        return "no answer"
    return answer if raw else describe(answer, own_port)


def ask_udp(namespace, host, port, count=3, timeout=1.0):
    """count request/answer exchanges on one connected UDP socket (a reply
    must come from host:port to be read at all). Returns "N/M answered, ..."
    with the distinct descriptions seen, "refused" when an ICMP port
    unreachable came back, or "0/M answered"."""
    s = namespace.socket(family_of(host), socket.SOCK_DGRAM)
    with s:
        s.settimeout(timeout)
        s.connect((host, port))
        own_port = s.getsockname()[1]
        seen, answered = [], 0
        for n in range(count):
            try:
                s.send(b"request %d" % n)
                answer = s.recv(2048).decode()
            except ConnectionRefusedError:
                return "refused"
            except socket.timeout:
                continue
            answered += 1
            words = describe(answer, own_port)
            if words not in seen:
                seen.append(words)
    return f"{answered}/{count} answered" + "".join(f", {w}" for w in seen)


# ---- the large transfer, as two programs ----

def receive(port, ready_fd):
    """Accepts one connection on port (dual-stack), hashes everything it
    sends; prints "SHA256 BYTES PEER"."""
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::", port))
    listener.listen(1)
    listener.settimeout(20)
    with open(ready_fd, "w", closefd=True) as ready:
        ready.write("listening\n")
    conn, peer = listener.accept()
    conn.settimeout(30)
    digest = hashlib.sha256()
    total = 0
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    while True:
        n = conn.recv_into(buffer)
        if not n:
            break
        digest.update(view[:n])
        total += n
    conn.close()
    print(digest.hexdigest(), total, plain_address(peer[0]), flush=True)


def send(host, port, path):
    """Sends the file to host:port and closes."""
    with open(path, "rb") as f, socket.create_connection((host, port), timeout=30) as s:
        s.sendfile(f)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)


def transfer(lab, sender_ns, receiver_ns, host, port, path, timeout=60):
    """Runs the receiver in receiver_ns and the sender in sender_ns; returns
    (sha256, bytes, peer the receiver saw), or raises with their errors."""
    read_ready, write_ready = os.pipe()
    receiver = subprocess.Popen(
        lab.ns[receiver_ns].exec_args([sys.executable, __file__, "receive", str(port),
                                       str(write_ready)]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(write_ready,))
    lab.processes.append(receiver)
    os.close(write_ready)
    with open(read_ready) as ready:
        if ready.readline().strip() != "listening":
            receiver.kill()
            raise RuntimeError(f"receiver did not start: {receiver.communicate()[1]}")
    sender = lab.ns[sender_ns].run([sys.executable, __file__, "send", host, str(port), path],
                                   check=False, timeout=timeout)
    try:
        out, err = receiver.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        receiver.kill()
        out, err = receiver.communicate()
    if sender.returncode != 0 or receiver.returncode != 0:
        raise RuntimeError(f"transfer failed: sender {sender.returncode} {sender.stderr.strip()}; "
                           f"receiver {receiver.returncode} {err.strip()}")
    digest, size, peer = out.split()
    return digest, int(size), peer


if __name__ == "__main__":
    if sys.argv[1] == "receive":
        receive(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
