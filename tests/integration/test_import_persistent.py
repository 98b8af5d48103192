"""netfilter-persistent on the router, on the kernel's iptables-legacy and on
verdictd's iptables commands (iptables_clients): rules added one by one with
`iptables -A/-N/-P` and `ip6tables -A/-P`, `netfilter-persistent save`
writes /etc/iptables/rules.v4 and rules.v6, the rules are lost (verdictd
stopped and started again; the kernel's tables emptied, as by a reboot),
`netfilter-persistent start` (what its unit runs at boot) loads them again,
with `iptables-restore --test` first, as Debian's
/etc/default/netfilter-persistent asks. The files must be the same on both
(comment lines and chain counters aside), and the traffic must meet the same fate on both:
before the loss, after it (everything passes), and after the restore (as
before).

netfilter-persistent is not installed (iptables-persistent conflicts with
ufw): scripts/install-deps.sh unpacks it into .cache/iptables-persistent,
whose usr/sbin, usr/share and etc/default are laid over the machine's (read
only); /etc/iptables, which the machine lacks, comes with the /etc layer and
has a directory of the run's bound over it.
"""
# ctest labels: import

import os
import re
import shutil
import unittest

from iptables_clients import ClientTestCase
from lab import EXTRA_CLIENT_V4, TOP
from probes import Ping, Tcp, TcpEcho

C, R, S = "client", "router", "server"
PACKAGE = os.path.join(TOP, ".cache", "iptables-persistent")
REJECTED = EXTRA_CLIENT_V4[0]

RULES = [
    ["iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
    ["iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
     "-j", "ACCEPT"],
    ["iptables", "-A", "INPUT", "-p", "icmp", "-j", "ACCEPT"],
    ["iptables", "-N", "SERVICES"],
    ["iptables", "-A", "SERVICES", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"],
    ["iptables", "-A", "SERVICES", "-s", REJECTED, "-p", "tcp", "--dport", "8080",
     "-j", "REJECT", "--reject-with", "tcp-reset"],
    ["iptables", "-A", "SERVICES", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"],
    ["iptables", "-A", "INPUT", "-j", "SERVICES"],
    ["iptables", "-A", "FORWARD", "-p", "tcp", "--dport", "8080", "-j", "DROP"],
    ["iptables", "-P", "INPUT", "DROP"],
    ["ip6tables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
    ["ip6tables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
     "-j", "ACCEPT"],
    ["ip6tables", "-A", "INPUT", "-p", "ipv6-icmp", "-j", "ACCEPT"],
    ["ip6tables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"],
    ["ip6tables", "-P", "INPUT", "DROP"],
]

PROBES = [
    TcpEcho(C, R, 22, 4), TcpEcho(C, R, 22, 6),
    Tcp(C, R, 8080, 4), Tcp(C, R, 8080, 4, src_addr=REJECTED), Tcp(C, R, 8080, 6, give_up=0.8),
    Tcp(C, R, 9999, 4, give_up=0.8),
    TcpEcho(C, S, 22, 4), Tcp(C, S, 8080, 4, give_up=0.8), Tcp(C, S, 8080, 6),
    Ping(C, R, 4), Ping(C, R, 6),
]
FILTERED = ["open", "open", "open", "refused", "timeout", "timeout",
            "open", "timeout", "open", "reply", "reply"]
OPEN = ["open", "open", "open", "open", "open", "open",
        "open", "open", "open", "reply", "reply"]
EXPECTED = {"rules": FILTERED, "lost": OPEN, "restored": FILTERED}


class PersistentImportTest(ClientTestCase):

    def phase(self):
        outcomes = self.probe(PROBES)
        return [outcomes[str(p)] for p in PROBES]

    def run_persistent(self, side):
        directory = os.path.join(self.lab.tmp, side.mode)
        # The /etc layer: /etc/default/netfilter-persistent and an empty
        # /etc/iptables, over which the run's own is bound.
        etc = os.path.join(directory, "etc")
        os.makedirs(os.path.join(etc, "iptables"))
        os.mkdir(os.path.join(etc, "default"))
        shutil.copy(os.path.join(PACKAGE, "etc", "default", "netfilter-persistent"),
                    os.path.join(etc, "default"))
        saved = os.path.join(directory, "iptables")
        os.mkdir(saved)
        host = side.host(
            layers={"/etc": etc, "/usr/sbin": os.path.join(PACKAGE, "usr", "sbin"),
                    "/usr/share": os.path.join(PACKAGE, "usr", "share")},
            binds={"/etc/iptables": saved})
        result = {}
        for rule in RULES:
            done = host.run(rule, check=False)
            result[" ".join(rule)] = (done.returncode, done.stdout, done.stderr)
        save = host.run(["netfilter-persistent", "save"], check=False)
        result["netfilter-persistent save"] = (save.returncode, save.stdout, save.stderr)
        for name in ("rules.v4", "rules.v6"):
            with open(os.path.join(saved, name)) as f:
                # A chain's counters aside: the router's kernel sends IPv6
                # packets of its own (MLD, neighbour discovery) whenever it
                # will, and its OUTPUT policy counts them.
                result[name] = [re.sub(r"^(:\S+ \S+) \[\d+:\d+\]$", r"\1", l)
                                for l in f.read().splitlines() if not l.startswith("#")]
        self.serve(tcp={R: [22, 8080, 9999], S: [22, 8080]})
        result["rules"] = self.phase()
        side.restart()
        result["lost"] = self.phase()
        start = host.run(["netfilter-persistent", "start"], check=False)
        result["netfilter-persistent start"] = (start.returncode, start.stdout, start.stderr)
        result["restored"] = self.phase()
        return result

    def check_kernel(self, result):
        for what in ["netfilter-persistent save", "netfilter-persistent start"] + \
                [" ".join(rule) for rule in RULES]:
            code, out, err = result[what]
            self.assertEqual(code, 0, f"{what}: {out}{err}")
        self.assertIn(":SERVICES -", result["rules.v4"])
        self.assertIn("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", result["rules.v6"])
        self.assertEqual({k: result[k] for k in EXPECTED}, EXPECTED)

    def test_netfilter_persistent(self):
        self.against_the_kernel("netfilter-persistent", self.run_persistent, self.check_kernel)


if __name__ == "__main__":
    unittest.main()
