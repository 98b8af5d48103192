"""NAT across a crash of verdictd (issue 9): no internal address ever leaks.

kill -9     masqueraded UDP (IPv4 and IPv6) and TCP, SNATed UDP and a DNAT
            port forward, all busy in both directions, live through a kill -9
            and a restart: the bindings come back from the store in the lab's
            runtime directory. Every packet the server receives from the NATed
            flows carries the router's address, every packet the client
            receives from the port forward carries the router's address, and
            both TCP transfers finish with every byte echoed.
lost store  the same after a kill -9 whose store is gone: the adopted
            connections the nat rules would bind are dropped and counted
            (unbound_drops), never sent on untranslated; a connection the
            rules never translated keeps working, and a new one is bound.

Sniffers (AF_PACKET sockets on the client's and the server's link) see every
packet that arrives there, so a single untranslated one fails the test.
"""

import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import unittest

from ct_probes import EchoSession
from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, ruleset_path

C, R, S = CLIENT, ROUTER, SERVER
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ROUTER_WAN = {ADDR[("router-wan", 4)], ADDR[("router-wan", 6)]}
ROUTER_LAN_V4 = ADDR[(R, 4)]
SNAT_PORTS = range(20000, 20100)
RUN_BEFORE = 1.0   # seconds of traffic before the kill
DOWN = 0.5         # seconds without verdictd
RUN_AFTER = 2.0    # seconds of traffic after the restart


class Sniffer:
    """Every IPv4/IPv6 TCP or UDP packet arriving on one namespace's eth0:
    (source, destination, protocol, source port, destination port)."""

    def __init__(self, namespace):
        self.sock = namespace.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind(("eth0", 0))
        self.sock.settimeout(0.2)
        self.packets = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                frame, address = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            if address[2] == PACKET_OUTGOING:
                continue
            packet = self._parse(frame)
            if packet:
                self.packets.append(packet)

    @staticmethod
    def _parse(frame):
        ethertype = struct.unpack("!H", frame[12:14])[0]
        ip = frame[14:]
        if ethertype == 0x0800 and len(ip) >= 20:
            family, protocol, header = socket.AF_INET, ip[9], (ip[0] & 0x0F) * 4
            source, destination = ip[12:16], ip[16:20]
        elif ethertype == 0x86DD and len(ip) >= 40:
            family, protocol, header = socket.AF_INET6, ip[6], 40
            source, destination = ip[8:24], ip[24:40]
        else:
            return None
        if protocol not in (socket.IPPROTO_TCP, socket.IPPROTO_UDP) or len(ip) < header + 4:
            return None
        sport, dport = struct.unpack("!HH", ip[header:header + 4])
        return (socket.inet_ntop(family, source), socket.inet_ntop(family, destination),
                protocol, sport, dport)

    def close(self):
        self.stopping.set()
        self.thread.join()
        self.sock.close()


class UdpFlow:
    """A client socket sending a datagram every 20 ms to a server socket that
    answers each; `answered` holds the times of the answers. `server`: the
    UdpFlow whose server socket (and its answers) to share."""

    def __init__(self, lab, family, port, server_address, server=None):
        fam = socket.AF_INET if family == 4 else socket.AF_INET6
        self.owns_server = server is None
        if server is None:
            self.server = lab.ns[S].socket(fam, socket.SOCK_DGRAM)
            self.server.bind((ADDR[(S, family)], port))
            self.server.settimeout(0.2)
        else:
            self.server = server.server
        self.client = lab.ns[C].socket(fam, socket.SOCK_DGRAM)
        self.client.settimeout(0.2)
        self.target = (server_address, port)
        self.answered = []
        self.stopping = threading.Event()
        work = [self._send, self._receive] + ([self._answer] if self.owns_server else [])
        self.threads = [threading.Thread(target=f, daemon=True) for f in work]
        for t in self.threads:
            t.start()

    def _send(self):
        n = 0
        while not self.stopping.is_set():
            try:
                self.client.sendto(b"datagram %d" % n, self.target)
            except OSError:  # an ICMP error answered an earlier one
                pass
            n += 1
            time.sleep(0.02)

    def _answer(self):
        while not self.stopping.is_set():
            try:
                data, peer = self.server.recvfrom(2048)
                self.server.sendto(data, peer)
            except socket.timeout:
                continue

    def _receive(self):
        while not self.stopping.is_set():
            try:
                self.client.recv(2048)
                self.answered.append(time.monotonic())
            except OSError:  # timeout, or an ICMP error
                continue

    def answered_since(self, t):
        return sum(1 for a in self.answered if a >= t)

    def close(self):
        self.stopping.set()
        for t in self.threads:
            t.join()
        if self.owns_server:
            self.server.close()
        self.client.close()


class TcpTransfer:
    """A TCP connection carrying data both ways: the client sends 1 KB every
    10 ms, the server echoes it; finish() ends the sending, lets the server
    echo the rest and close, and returns (sent, echoed) byte counts."""

    CHUNK = b"x" * 1024

    def __init__(self, lab, listen_port, connect_to):
        self.listener = lab.ns[S].socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((ADDR[(S, 4)], listen_port))
        self.listener.listen(1)
        self.listener.settimeout(3)
        self.client = lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
        self.client.settimeout(3)
        self.client.connect(connect_to)
        self.served, _ = self.listener.accept()
        self.sent = 0
        self.echoed = 0
        self.echo_times = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._serve, self._send, self._receive)]
        for t in self.threads:
            t.start()

    def _serve(self):
        self.served.settimeout(30)
        with self.served:
            while True:
                data = self.served.recv(65536)
                if not data:
                    return
                self.served.sendall(data)

    def _send(self):
        while not self.stopping.is_set():
            self.client.sendall(self.CHUNK)
            self.sent += len(self.CHUNK)
            time.sleep(0.01)
        self.client.shutdown(socket.SHUT_WR)

    def _receive(self):
        self.client.settimeout(30)
        while True:
            data = self.client.recv(65536)
            if not data:
                return
            self.echoed += len(data)
            self.echo_times.append(time.monotonic())

    def echoed_since(self, t):
        return sum(1 for e in self.echo_times if e >= t)

    def finish(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=40)
        self.client.close()
        self.listener.close()
        return self.sent, self.echoed


def nat_counts(status_text):
    match = re.search(r"^nat (.*)$", status_text, re.M)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


class NatRestartTest(LabTestCase):

    def setUp(self):
        super().setUp()
        self.sniffers = {C: Sniffer(self.lab.ns[C]), S: Sniffer(self.lab.ns[S])}

    def tearDown(self):
        for sniffer in self.sniffers.values():
            sniffer.close()
        super().tearDown()

    def kill_and_restart(self, daemon, lose_store=False):
        daemon.stop(signal.SIGKILL)
        if lose_store:
            os.remove(os.path.join(self.lab.tmp, "run", "nat-bindings"))
        time.sleep(DOWN)
        restarted = self.start_verdictd(ruleset_path("nat_restart"))
        return restarted, time.monotonic()

    def leaks_at_server(self, ports):
        """Packets the server received on `ports` from anything but the
        router's WAN address."""
        return [p for p in self.sniffers[S].packets if p[4] in ports and p[0] not in ROUTER_WAN]

    def test_bindings_survive_kill_9(self):
        daemon = self.start_verdictd(ruleset_path("nat_restart"))
        udp = {"masquerade v4": UdpFlow(self.lab, 4, 7001, ADDR[(S, 4)]),
               "masquerade v6": UdpFlow(self.lab, 6, 7001, ADDR[(S, 6)]),
               "snat v4": UdpFlow(self.lab, 4, 7003, ADDR[(S, 4)])}
        tcp = {"masquerade": TcpTransfer(self.lab, 7002, (ADDR[(S, 4)], 7002)),
               "port forward": TcpTransfer(self.lab, 80, (ROUTER_LAN_V4, 8080))}
        try:
            time.sleep(RUN_BEFORE)
            before = daemon.ctl("status").stdout
            daemon, restarted = self.kill_and_restart(daemon)
            time.sleep(RUN_AFTER)
            status = daemon.ctl("status").stdout
            for name, flow in udp.items():
                answered = flow.answered_since(restarted)
                print(f"kill -9: UDP {name}: {answered} answers in the {RUN_AFTER} s after the "
                      "restart", file=sys.stderr)
                self.assertGreater(answered, 10, f"UDP {name} stalled after the restart")
            for name, transfer in tcp.items():
                self.assertGreater(transfer.echoed_since(restarted), 10,
                                   f"TCP {name} stalled after the restart")
        finally:
            for flow in udp.values():
                flow.close()
            results = {name: transfer.finish() for name, transfer in tcp.items()}
        for name, (sent, echoed) in results.items():
            print(f"kill -9: TCP {name}: {sent} bytes sent, {echoed} echoed", file=sys.stderr)
            self.assertEqual(echoed, sent, f"the TCP {name} transfer did not complete")
        print(f"kill -9: before: {nat_counts(before)}; after: {nat_counts(status)}",
              file=sys.stderr)
        counts = nat_counts(status)
        self.assertGreaterEqual(counts["restored"], 5, status)
        self.assertEqual(counts["unbound_drops"], 0, status)

        server = self.sniffers[S].packets
        self.assertEqual(self.leaks_at_server({7001, 7002, 7003}), [],
                         "the server received untranslated packets")
        snat = [p for p in server if p[4] == 7003]
        self.assertTrue(snat and all(p[3] in SNAT_PORTS for p in snat),
                        "SNAT must map into its port range")
        client = self.sniffers[C].packets
        forwarded = [p for p in client if p[1] == ADDR[(C, 4)] and p[3] in (80, 8080)]
        leaked = [p for p in forwarded if p[0] != ROUTER_LAN_V4]
        print(f"kill -9: the server received {len(server)} packets, none untranslated; the "
              f"client received {len(forwarded)} of the port forward, {len(leaked)} from the "
              "server's own address", file=sys.stderr)
        self.assertEqual(leaked, [], "the port forward's replies leaked the server's address")
        self.assertTrue(any(p[3] == 8080 for p in forwarded))

    def test_a_lost_store_drops_unknown_connections(self):
        daemon = self.start_verdictd(ruleset_path("nat_restart"))
        masqueraded = UdpFlow(self.lab, 4, 7001, ADDR[(S, 4)])
        plain = EchoSession(self.lab, 4, 7004)
        fresh = None
        try:
            time.sleep(RUN_BEFORE)
            self.assertGreater(masqueraded.answered_since(0), 10)
            daemon, restarted = self.kill_and_restart(daemon, lose_store=True)
            fresh = UdpFlow(self.lab, 4, 7001, ADDR[(S, 4)], server=masqueraded)
            time.sleep(RUN_AFTER)
            status = daemon.ctl("status").stdout
            counts = nat_counts(status)
            lost = masqueraded.answered_since(restarted)
            plain_echoed = plain.echoed_since(restarted)
            fresh_answered = fresh.answered_since(restarted)
        finally:
            if fresh:
                fresh.close()
            masqueraded.close()
            plain.close()
        print(f"lost store: masqueraded flow answered {lost} times after the restart; "
              f"unbound_drops={counts['unbound_drops']}; the untranslated session echoed "
              f"{plain_echoed} lines; a new flow got {fresh_answered} answers", file=sys.stderr)
        self.assertEqual(self.leaks_at_server({7001}), [],
                         "the server received untranslated packets")
        self.assertEqual(lost, 0, "a connection with an unknown binding must not pass")
        self.assertGreater(counts["unbound_drops"], 10, status)
        self.assertEqual(counts["restored"], 0, status)
        self.assertGreaterEqual(plain_echoed, 10, "a connection never translated must go on")
        self.assertGreater(fresh_answered, 10, "a new connection must be bound")


if __name__ == "__main__":
    unittest.main()
