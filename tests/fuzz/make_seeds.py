#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs (tests/fuzz/seeds/): the packets of a
few connections through the fuzzed host, so that short runs start from
packets that reach tracking, every NAT target and the rewrite. Checksums are
left zero: the targets seal packets themselves when the input says so."""
import ipaddress
import pathlib
import struct

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"


def ipv4(src, dst, proto, payload, frag=0):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0,
                         ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
    return header + payload


def ipv6(src, dst, next_header, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), next_header, 64,
                       ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed) + payload


def tcp(sport, dport, flags):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0)


def udp(sport, dport, data=b"hello"):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(kind, code, rest):
    return struct.pack("!BBH", kind, code, 0) + rest


def sctp(sport, dport):
    return struct.pack("!HHII", sport, dport, 7, 0) + bytes(16)


SYN, ACK = 0x02, 0x10
FWD_OUT, FWD_IN, IN_LAN, IN_WAN, OUT_LAN, OUT_WAN, LOOPBACK = range(7)
SEALED = 32


def record(way, packet, mark=0):
    return struct.pack("!BBH", way | SEALED, mark, len(packet)) + packet


udp_in = ipv4("203.0.113.5", "192.0.2.1", 17, udp(7000, 5003))
PACKET_PATH = {
    "masquerade_tcp": [
        record(FWD_OUT, ipv4("10.1.0.7", "203.0.113.5", 6, tcp(40000, 443, SYN))),
        record(FWD_IN, ipv4("203.0.113.5", "192.0.2.1", 6, tcp(443, 40000, SYN | ACK))),
        record(FWD_OUT, ipv4("10.1.0.7", "203.0.113.5", 6, tcp(40000, 443, ACK))),
    ],
    "snat_range_tcp": [
        record(FWD_OUT, ipv4("10.1.0.200", "203.0.113.5", 6, tcp(40001, 80, SYN))),
        record(FWD_IN, ipv4("203.0.113.5", "192.0.2.10", 6, tcp(80, 20000, SYN | ACK))),
    ],
    "port_forward_tcp": [
        record(FWD_IN, ipv4("203.0.113.5", "192.0.2.1", 6, tcp(5555, 80, SYN))),
        record(FWD_OUT, ipv4("10.1.0.2", "203.0.113.5", 6, tcp(8080, 5555, SYN | ACK))),
    ],
    "dnat_udp_and_error": [
        record(FWD_IN, udp_in),
        record(FWD_OUT, ipv4("10.1.0.3", "203.0.113.5", 1,
                             icmp(3, 3, bytes(4) + ipv4("203.0.113.5", "10.1.0.3", 17,
                                                         udp(7000, 6003))))),
    ],
    "ping": [
        record(FWD_OUT, ipv4("10.1.0.7", "203.0.113.5", 1, icmp(8, 0, struct.pack("!HH", 77, 1)))),
        record(FWD_IN, ipv4("203.0.113.5", "192.0.2.1", 1, icmp(0, 0, struct.pack("!HH", 77, 1)))),
    ],
    "ipv6_dnat": [
        record(FWD_IN, ipv6("2001:db8::99", "2001:db8::1", 6, tcp(6000, 22, SYN))),
        record(FWD_OUT, ipv6("fd01::2", "2001:db8::99", 6, tcp(8080, 6000, SYN | ACK))),
        record(FWD_IN, ipv6("2001:db8::99", "2001:db8::1", 58, icmp(128, 0, struct.pack("!HH", 5, 1)))),
    ],
    "local": [
        record(OUT_WAN, ipv4("192.0.2.1", "10.9.0.1", 6, tcp(33000, 81, SYN))),
        record(LOOPBACK, ipv4("127.0.0.1", "127.0.0.1", 17, udp(33001, 9))),
        record(IN_LAN, ipv4("10.1.0.7", "10.1.0.1", 6, tcp(33002, 2222, SYN)), mark=5),
        record(IN_LAN, ipv4("10.1.0.7", "10.1.0.1", 17, udp(33003, 53))),
        record(OUT_LAN, ipv6("fd01::1", "fd09::1", 17, udp(33004, 53))),
        record(IN_WAN, ipv4("203.0.113.5", "192.0.2.1", 132, sctp(9, 9))),
        record(FWD_IN, ipv4("203.0.113.5", "198.51.100.7", 17, udp(1, 2), frag=0x2000)),
    ],
}

# nat_rewrite: the packet, then what FuzzedDataProvider reads from the end:
# the inner and outer manipulations (16 address bytes, a port) and the mode.
def manips(outer, inner, mode):
    def raw(address, port):
        packed = ipaddress.ip_address(address).packed.ljust(16, b"\0")
        return struct.pack("<H", port) + packed[::-1]
    return raw(*inner) + raw(*outer) + bytes([mode])


SEAL, DESTINATION, ICMP_ERROR, PARTIAL = 8, 4, 1, 2
NAT_REWRITE = {
    "tcp_source": ipv4("10.1.0.7", "203.0.113.5", 6, tcp(40000, 443, SYN))
    + manips(("192.0.2.1", 40000), ("10.1.0.7", 40000), SEAL),
    "udp_destination_partial": ipv4("203.0.113.5", "192.0.2.1", 17, udp(7000, 5003))
    + manips(("10.1.0.2", 6003), ("192.0.2.1", 5003), SEAL | DESTINATION | PARTIAL),
    "icmp_error": ipv4("10.1.0.3", "203.0.113.5", 1,
                       icmp(3, 3, bytes(4) + ipv4("203.0.113.5", "10.1.0.3", 17, udp(7000, 6003))))
    + manips(("192.0.2.1", 0), ("192.0.2.1", 5003), SEAL | ICMP_ERROR),
    "ipv6_echo": ipv6("fd01::7", "2001:db8::99", 58, icmp(128, 0, struct.pack("!HH", 5, 1)))
    + manips(("2001:db8::1", 99), ("fd01::7", 5), SEAL),
    "sctp": ipv4("10.1.0.7", "203.0.113.5", 132, sctp(9, 9)) + manips(("192.0.2.1", 10), ("10.1.0.7", 9), SEAL),
}

for target, seeds in (("packet_path", PACKET_PATH), ("nat_rewrite", NAT_REWRITE)):
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in seeds.items():
        (directory / name).write_bytes(b"".join(content) if isinstance(content, list) else content)
