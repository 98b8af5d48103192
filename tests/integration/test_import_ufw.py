"""ufw on the router, on the kernel's iptables-legacy and on verdictd's
iptables commands (iptables_clients): `default deny incoming`, enabled, then
`deny from` one of the client's extra addresses, `allow 22/tcp`, `limit ssh`
(which turns that rule into a limit), `logging on`. Every ufw command must
print the same and exit the same on both, so must `ufw status verbose`, and
the client's traffic to the router must meet the same fate: ssh with data
both ways, a port the default denies, the denied address, ping, and ufw's
limit (the 6th new ssh connection within 30 s from one address is rejected:
its recent match counts this connection among the 6).

ufw writes /etc/ufw (rules, ufw.conf), /etc/default/ufw and /run/ufw.lock:
each run has copies of the machine's /etc/ufw and /etc/default, and a /run
of its own.
"""
# ctest labels: import

import os
import shutil
import unittest

from iptables_clients import ClientTestCase
from lab import EXTRA_CLIENT_V4
from probes import Ping, Tcp, TcpEcho

C, R = "client", "router"
DENIED = EXTRA_CLIENT_V4[0]
UFW_COMMANDS = [
    # Before enabling: a change of default policy reloads the whole firewall
    # (a few hundred iptables calls), as enabling does.
    ["default", "deny", "incoming"],
    ["--force", "enable"],  # --force: no question about ssh sessions
    # Before the ssh rule, so that it decides for this address.
    ["deny", "from", DENIED],
    ["allow", "22/tcp"],
    ["limit", "ssh"],
    ["logging", "on"],
]
LIMIT_HITS = 6  # ufw's `--hitcount 6` within `--seconds 30`

FIRST = [
    (TcpEcho(C, R, 22, 4), "open"),
    (TcpEcho(C, R, 22, 6), "open"),
    (Tcp(C, R, 8080, 4, give_up=0.8), "timeout"),
    (Tcp(C, R, 8080, 6, give_up=0.8), "timeout"),
    (Tcp(C, R, 22, 4, src_addr=DENIED, give_up=0.8), "timeout"),
    (Ping(C, R, 4), "reply"),
    (Ping(C, R, 6), "reply"),
]
# One new ssh connection a phase from the client's address, after FIRST's:
# the 2nd to the 5th pass, the 6th and 7th are limited (ufw-user-limit:
# LOG, then REJECT).
LIMIT = [(Tcp(C, R, 22, 4, give_up=0.8), "open" if n < LIMIT_HITS else "refused")
         for n in range(2, 8)]


class UfwTest(ClientTestCase):

    def run_ufw(self, side):
        directory = os.path.join(self.lab.tmp, side.mode)
        os.mkdir(directory)
        binds = {}
        for written in ("/etc/ufw", "/etc/default"):
            copy = os.path.join(directory, os.path.basename(written))
            shutil.copytree(written, copy, symlinks=True)
            binds[written] = copy
        host = side.host(binds=binds)
        result = {}
        for args in UFW_COMMANDS:
            done = host.run(["ufw", *args], check=False)
            result["ufw " + " ".join(args)] = (done.returncode, done.stdout, done.stderr)
        self.serve(tcp={R: [22, 8080]})
        result["first"] = self.probe([p for p, _ in FIRST])
        for i, (probe, _) in enumerate(LIMIT):
            result[f"limit {i + 2}"] = self.probe([probe])[str(probe)]
        status = host.run(["ufw", "status", "verbose"], check=False)
        result["ufw status verbose"] = (status.returncode, status.stdout, status.stderr)
        return result

    def check_kernel(self, result):
        for args in UFW_COMMANDS:
            code, out, err = result["ufw " + " ".join(args)]
            self.assertEqual(code, 0, f"ufw {' '.join(args)}: {out}{err}")
        self.assert_outcomes(FIRST, result["first"], "the kernel, first phase")
        self.assertEqual([result[f"limit {i + 2}"] for i in range(len(LIMIT))],
                         [want for _, want in LIMIT], "the kernel, ufw's limit")
        code, status, _ = result["ufw status verbose"]
        self.assertEqual(code, 0)
        self.assertIn("Status: active", status)
        self.assertIn("Logging: on (low)", status)
        self.assertIn("22/tcp                     LIMIT IN    Anywhere", status)

    def test_ufw(self):
        self.against_the_kernel("ufw", self.run_ufw, self.check_kernel)


if __name__ == "__main__":
    unittest.main()
