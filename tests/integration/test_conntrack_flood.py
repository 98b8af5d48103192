"""A flood of packets that miss the flow table costs bounded work (issue 9).

A TCP ACK without a connection may belong to one the kernel has and the
mirror has not heard of yet, so the tracker may ask the kernel (a ctnetlink
get) before calling it NEW. Asked for every packet, a flood from random
sources becomes a kernel round trip per packet. Here the client sends
FLOOD_PACKETS spoofed ACKs from random sources through the stateful gateway:
verdictd must look each one up, and must ask the kernel about few of them,
since its mirror knows the kernel has none of these connections. A real
connection still opens afterwards.
"""

import random
import socket
import struct
import sys
import time
import unittest

from lab import ADDR, CLIENT, SERVER
from oracle import LabTestCase, conntrack_status, ruleset_path
from probes import Tcp, _checksum

C, S = CLIENT, SERVER
FLOOD_PACKETS = 20000
FLOOD_RATE = 10000  # a second: well within what the queue holds


def spoofed_ack(rng, destination):
    """An IPv4 TCP ACK from a random 10.64.0.0/10 source and port to a
    random high port of `destination` (bytes for an IPPROTO_RAW socket)."""
    source = socket.inet_aton("10.64.0.0")
    source = (int.from_bytes(source, "big") | rng.getrandbits(22)).to_bytes(4, "big")
    dest = socket.inet_aton(destination)
    segment = struct.pack("!HHIIBBHHH", rng.randrange(1024, 65536), rng.randrange(10000, 60000),
                          rng.getrandbits(32), rng.getrandbits(32), 5 << 4, 0x10, 512, 0, 0)
    pseudo = source + dest + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(segment))
    segment = segment[:16] + struct.pack("!H", _checksum(pseudo + segment)) + segment[18:]
    # The kernel fills in the IP header's length, id and checksum.
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, socket.IPPROTO_TCP, 0, source, dest)
    return header + segment


class ConntrackFloodTest(LabTestCase):

    def lookups(self, daemon):
        status = conntrack_status(daemon)
        return {name: status.get(name, 0) for name in ("fetches", "fetches_skipped", "fetches_limited")}

    def test_random_source_ack_flood_asks_the_kernel_little(self):
        self.serve(tcp={S: [80]})
        daemon = self.start_verdictd(ruleset_path("ct_gateway"))
        before = self.lookups(daemon)
        rng = random.Random(9)
        packets = [spoofed_ack(rng, ADDR[(S, 4)]) for _ in range(FLOOD_PACKETS)]
        s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        started = time.monotonic()
        try:
            for i, packet in enumerate(packets):
                s.sendto(packet, (ADDR[(S, 4)], 0))
                if i % 100 == 99:  # paced in steps of 100
                    time.sleep(max(0.0, started + (i + 1) / FLOOD_RATE - time.monotonic()))
        finally:
            s.close()
        # Until verdictd has decided them all (or stops getting further).
        deadline, looked_up, after = time.monotonic() + 20, -1, before
        while time.monotonic() < deadline:
            time.sleep(0.5)
            after = self.lookups(daemon)
            total = sum(after[k] - before[k] for k in after)
            if total == looked_up or total >= FLOOD_PACKETS:
                break
            looked_up = total
        asked = {k: after[k] - before[k] for k in after}
        print(f"flood: {FLOOD_PACKETS} random-source ACKs; kernel lookups {asked['fetches']}, "
              f"answered by the mirror {asked['fetches_skipped']}, over the budget "
              f"{asked['fetches_limited']}", file=sys.stderr)
        self.assertGreaterEqual(sum(asked.values()), FLOOD_PACKETS * 9 // 10,
                                "the flood did not reach verdictd's tracker")
        self.assertLess(asked["fetches"], FLOOD_PACKETS // 20,
                        "a kernel round trip per flood packet")
        self.assertEqual(self.probe([Tcp(C, S, 80, 4)]), {"tcp4 client -> server:80": "open"})


if __name__ == "__main__":
    unittest.main()
