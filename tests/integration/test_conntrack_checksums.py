"""Checksums as the kernel's conntrack tests them (issue 9), the kernel as
the oracle.

At PREROUTING, with nf_conntrack_checksum at its default of 1, a TCP, UDP,
ICMP or ICMPv6 packet whose checksum is wrong is INVALID, and creates or
advances no connection. Crafted packets with wrong checksums (and the same
packets right) cross the router one at a time, as in test_conntrack.py: each
packet's state is read off the ct_states counting rules, under the kernel's
iptables and under verdictd, and every packet must agree. Packets from an
AF_PACKET socket reach the router with no checksum verified
(NFQA_SKB_CSUM_NOTVERIFIED): verdictd tests them itself.

Then real socket traffic from the end hosts through a gateway that drops
INVALID: the veth peers leave their checksums to be filled in
(CHECKSUM_PARTIAL, NFQA_SKB_CSUMNOTREADY); such packets must stay valid.
"""

import unittest

import test_conntrack
from ct_probes import TcpTalk, UdpEcho, echo, icmp_error, ip_header, udp
from lab import CLIENT, ROUTER, SERVER
from probes import Ping, TcpExchange
from scapy.layers.inet import IP, UDP, IPOption_RR, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, fragment6
from test_conntrack import ESTABLISHED, INVALID, NEW, RELATED, Step, counted

C, R, S = CLIENT, ROUTER, SERVER


def rebuilt(packet):
    """`packet` built (every length and checksum computed) and read back, so
    that a field set afterwards is sent as it is."""
    return packet.__class__(bytes(packet))


def corrupt(packet):
    """`packet` with its transport checksum wrong and everything else right."""
    p = rebuilt(packet)
    for layer in p.payload.iterpayloads():
        field = next((f for f in ("chksum", "cksum") if f in layer.fields), None)
        if field:
            wrong = getattr(layer, field) ^ 0x0101  # never 0 for 0xffff or back
            assert wrong != 0, "a zero UDP checksum means none"
            setattr(layer, field, wrong)
            return p
    raise ValueError(f"no checksum in {packet!r}")


def without_checksum(packet):
    """A UDP datagram sent with checksum 0: none, for the receiver."""
    p = rebuilt(packet)
    p[UDP].chksum = 0
    return p


def with_header_options(family, packet):
    """`packet` with an IPv4 record-route option, or an IPv6 destination
    options header before its transport header."""
    if family == 4:
        p = packet.copy()
        p[IP].options = [IPOption_RR(routers=["0.0.0.0"])]
        return p
    return IPv6(src=packet[IPv6].src, dst=packet[IPv6].dst) / IPv6ExtHdrDestOpt() \
        / packet[IPv6].payload.copy()


def fragments(family, packet):
    """`packet`, as built (its checksums as they are), in two fragments."""
    p = rebuilt(packet)
    if family == 4:
        return fragment(p, fragsize=512)
    whole = IPv6(src=p.src, dst=p.dst) / IPv6ExtHdrFragment() / p.payload
    return fragment6(whole, 600)


# ---- the scenarios: each a function of the family and a port of its own ----


def tcp_checksums(family, port):
    """A SYN and segments of an established connection with bad checksums:
    none counts, not even a reset."""
    t = TcpTalk(family, 41000 + port, port)
    steps = [
        Step("SYN, bad checksum", C, corrupt(t.segment(C, "S", advance=False)), counted(INVALID)),
        Step("SYN-ACK to it: no connection to answer", S, t.segment(S, "SA", advance=False),
             counted(INVALID)),
        Step("SYN", C, t.segment(C, "S"), counted(NEW)),
        Step("SYN-ACK", S, t.segment(S, "SA"), counted(ESTABLISHED)),
        Step("ACK", C, t.segment(C, "A"), counted(ESTABLISHED)),
        Step("data, bad checksum", C, corrupt(t.segment(C, "PA", b"hello\n", advance=False)),
             counted(INVALID)),
        Step("RST, bad checksum", S, corrupt(t.segment(S, "R", advance=False)), counted(INVALID)),
        Step("data: the connection is still open", C, t.segment(C, "PA", b"hello\n"),
             counted(ESTABLISHED)),
        Step("ACK back", S, t.segment(S, "A"), counted(ESTABLISHED)),
        Step("data behind header options, bad checksum", C,
             corrupt(with_header_options(family, t.segment(C, "PA", b"opt\n", advance=False))),
             counted(INVALID)),
        Step("data behind header options", C,
             with_header_options(family, t.segment(C, "PA", b"opt\n")), counted(ESTABLISHED)),
    ]
    return steps


def udp_checksums(family, port):
    """A datagram with a bad checksum starts nothing and belongs to nothing;
    one without a checksum is tracked."""
    request = udp(family, C, 41000 + port, port)
    response = udp(family, S, port, 41000 + port)
    big = udp(family, C, 41000 + port, port, payload=b"x" * 1000)
    return [
        Step("request, bad checksum", C, corrupt(request), counted(INVALID)),
        Step("response as if it had passed: a new flow", S, response, counted(NEW)),
        Step("request into that flow, bad checksum", C, corrupt(request), counted(INVALID)),
        Step("request into that flow", C, request, counted(ESTABLISHED)),
        Step("request without checksum", C, without_checksum(request), counted(ESTABLISHED)),
        Step("request in two fragments", C, fragments(family, big), counted(ESTABLISHED)),
        Step("request in two fragments, bad checksum", C, fragments(family, corrupt(big)),
             counted(INVALID)),
        Step("datagram to the router, bad checksum", C,
             corrupt(ip_header(family, C, R) / UDP(sport=41000 + port, dport=port) / b"ct-test"),
             counted("INPUT INVALID")),
    ]


def icmp_checksums(family, port):
    """Echo requests, replies and an error about a tracked flow, with bad
    checksums: INVALID, and no connection from them."""
    ident = port
    tracked = udp(family, C, 41001 + port, port)
    return [
        Step("echo request, bad checksum", C, corrupt(echo(family, C, ident)), counted(INVALID)),
        Step("echo reply to it: unsolicited", S, echo(family, S, ident, reply=True),
             counted(INVALID)),
        Step("echo request", C, echo(family, C, ident, seq=2), counted(NEW)),
        Step("echo reply, bad checksum", S, corrupt(echo(family, S, ident, seq=2, reply=True)),
             counted(INVALID)),
        Step("echo reply", S, echo(family, S, ident, seq=2, reply=True), counted(ESTABLISHED)),
        Step("request", C, tracked, counted(NEW)),
        Step("port unreachable about it, bad checksum", S,
             corrupt(icmp_error(family, S, tracked, "port-unreachable")), counted(INVALID)),
        Step("port unreachable about it", S, icmp_error(family, S, tracked, "port-unreachable"),
             counted(RELATED)),
    ]


SCENARIOS = [tcp_checksums, udp_checksums, icmp_checksums]


def scenario_runs():
    runs = []
    for i, scenario in enumerate(SCENARIOS):
        for family in (4, 6):
            port = 6000 + 100 * i + (50 if family == 6 else 0)
            runs.append((scenario.__name__, family, scenario(family, port)))
    return runs


class ChecksumStateTest(test_conntrack.CtStateTest):
    """ctstate packet by packet (test_ctstate_packet_by_packet, inherited),
    for the packets above."""

    def runs(self):
        return scenario_runs()

    def test_partial_checksums_stay_valid(self):
        """Socket traffic from the veth peers through the gateway, whose
        FORWARD drops INVALID: bulk TCP both ways, UDP, ping."""
        self.serve(tcp={S: [22, 80]})
        probes = []
        for family in (4, 6):
            probes += [
                (TcpExchange(C, S, 22, family, size=300_000), "closed"),
                (TcpExchange(C, S, 80, family, size=2_000), "closed"),
                (UdpEcho(C, S, 53, family), "answered"),
                (Ping(C, S, family), "reply"),
            ]
        self.check_scenario("ct_gateway", [probes])


class ChecksumStateAtForwardTest(test_conntrack.CtStateTest):
    """The same packets with no rule at PREROUTING: verdictd tracks
    forwarded packets at FORWARD, where NFQUEUE says a checksum the kernel's
    conntrack found right is verified, and one it found wrong is not."""

    ruleset = "ct_states_forward"

    def runs(self):
        return scenario_runs()


if __name__ == "__main__":
    unittest.main()
