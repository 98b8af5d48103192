#!/usr/bin/env python3
"""A ClassBench filter set as a verdictd ruleset, and a packet trace for it.

Usage: classbench_ruleset.py FILTERS RULES RULESET_JSON TRACE [--packets N] [--seed S]

FILTERS is a ClassBench filter file (one rule a line, "@SRC/LEN DST/LEN
SPORT_LO : SPORT_HI DPORT_LO : DPORT_HI PROTO/MASK FLAGS/MASK"; the first
line wins). Its first RULES rules become filter INPUT rules, as iptables
would hold them (`-s SRC -d DST -p PROTO --sport LO:HI --dport LO:HI`,
leaving out what matches everything), DROP and ACCEPT in turn; the policy is
ACCEPT.

The trace is ClassBench-style: most packets are a random point inside a
random rule's box, the rest uniform random headers (mostly misses). Each
line is "PROTOCOL SOURCE DESTINATION SPORT DPORT RULE", RULE being the index
of the first rule that matches by a plain linear scan (-1: none, the policy
decides), so the benchmark can check verdictd's answer for every packet.
"""

import argparse
import ipaddress
import json
import random

PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah"}
PORTED = (6, 17)
HIT_SHARE = 0.9  # of the trace; the rest are uniform random headers


class Rule:
    """One ClassBench line: address prefixes, port ranges, protocol (None: any)."""

    def __init__(self, line):
        fields = line.lstrip("@").split()
        self.source = ipaddress.IPv4Network(fields[0])
        self.destination = ipaddress.IPv4Network(fields[1])
        self.sport = (int(fields[2]), int(fields[4]))
        self.dport = (int(fields[5]), int(fields[7]))
        value, mask = (int(x, 16) for x in fields[8].split("/"))
        self.protocol = value if mask == 0xFF else None
        # What first_match compares, in one tuple (the scan is the slow part).
        self.box = (self.protocol, int(self.source.network_address), int(self.source.netmask),
                    int(self.destination.network_address), int(self.destination.netmask),
                    *self.sport, *self.dport)

    def as_json(self, target):
        match = {}
        if self.protocol is not None:
            match["protocol"] = PROTOCOL_NAMES.get(self.protocol, self.protocol)
        if self.source.prefixlen:
            match["source"] = str(self.source)
        if self.destination.prefixlen:
            match["destination"] = str(self.destination)
        for key, (low, high) in (("sport", self.sport), ("dport", self.dport)):
            if self.protocol in PORTED and (low, high) != (0, 65535):
                match[key] = low if low == high else f"{low}:{high}"
        return {"match": match, "target": target}

    def random_point(self, rng):
        protocol = self.protocol if self.protocol is not None else rng.choice(PORTED)
        return (protocol, random_address(rng, self.source), random_address(rng, self.destination),
                rng.randint(*self.sport), rng.randint(*self.dport))


def random_address(rng, network):
    return int(network.network_address) | rng.getrandbits(32 - network.prefixlen)


def first_match(boxes, packet, last):
    """The index of the first of boxes[0..last] that packet matches, or -1
    (last: the rule the packet was made from, or the end)."""
    protocol, source, destination, sport, dport = packet
    ported = protocol in PORTED
    for i in range(last + 1):
        p, src, src_mask, dst, dst_mask, sport_lo, sport_hi, dport_lo, dport_hi = boxes[i]
        if ((p is None or p == protocol) and source & src_mask == src
                and destination & dst_mask == dst
                # iptables takes port ranges only with -p tcp/udp; ClassBench's
                # other rules have full ranges.
                and (not ported or (sport_lo <= sport <= sport_hi
                                    and dport_lo <= dport <= dport_hi))):
            return i
    return -1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("filters")
    parser.add_argument("rules", type=int)
    parser.add_argument("ruleset_json")
    parser.add_argument("trace")
    parser.add_argument("--packets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with open(args.filters, encoding="ascii") as f:
        rules = [Rule(line) for line in f if line.startswith("@")][:args.rules]
    ruleset = {"tables": {"filter": {"INPUT": {"policy": "ACCEPT", "rules": [
        rule.as_json("DROP" if i % 2 == 0 else "ACCEPT") for i, rule in enumerate(rules)]}}}}
    with open(args.ruleset_json, "w", encoding="ascii") as f:
        json.dump(ruleset, f, indent=0)

    boxes = [rule.box for rule in rules]
    rng = random.Random(args.seed)
    with open(args.trace, "w", encoding="ascii") as f:
        for _ in range(args.packets):
            if rng.random() < HIT_SHARE:
                last = rng.randrange(len(rules))
                packet = rules[last].random_point(rng)
            else:
                last = len(rules) - 1
                packet = (rng.choice(PORTED), rng.getrandbits(32), rng.getrandbits(32),
                          rng.getrandbits(16), rng.getrandbits(16))
            protocol, source, destination, sport, dport = packet
            f.write(f"{protocol} {ipaddress.IPv4Address(source)} "
                    f"{ipaddress.IPv4Address(destination)} {sport} {dport} "
                    f"{first_match(boxes, packet, last)}\n")


if __name__ == "__main__":
    main()
