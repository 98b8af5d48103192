"""fail2ban's own iptables action on the router, on the kernel's iptables-legacy
and on verdictd's iptables commands (iptables_clients). A jail of the test's
(polling backend, a filter matching `Failed login from <HOST>` in a log file
the test writes, banaction iptables-multiport, maxretry 3) bans the client's
IPv4 and IPv6 addresses after three failures each: their connections to the
jail's port are rejected (the action's blocktype, icmp-port-unreachable),
those to another port and those of an address with two failures are not;
`fail2ban-client unban` lets them through again. Both runs must give the
same outcomes, and verdictd's commands must answer the action's iptables
calls (`iptables -w -C/-N/-A/-I/-D/-F/-X ...`) as iptables-legacy does.

fail2ban-server runs in the foreground from a copy of /etc/fail2ban (its
jail.d emptied, so that no jail of Debian's starts), with its socket, pid
file and database in that copy; iptables' lock is in the run's own /run.
"""
# ctest labels: import

import os
import shutil
import subprocess
import time
import unittest

from iptables_clients import ClientTestCase
from lab import ADDR, EXTRA_CLIENT_V4, run
from probes import TcpEcho

C, R = "client", "router"
JAIL = "import-test"
PORT, OTHER_PORT = 2222, 2223
MAXRETRY = 3
WAIT = 20  # seconds for fail2ban to read the log and act (it polls every second)
# The client's IPv6 connect fails on the ICMPv6 error that answers the SYN's
# retransmission (1 s on), not on the first one: a phase waits for that.
PHASE = 2.5
BANNED = [ADDR[(C, 4)], ADDR[(C, 6)]]
SPARED = EXTRA_CLIENT_V4[0]

FILTER = """[Definition]
failregex = ^Failed login from <HOST>$
# The lines carry no time: they happened when fail2ban reads them.
datepattern = {NONE}
"""
JAIL_LOCAL = """[{jail}]
enabled = true
backend = polling
filter = {jail}
logpath = {log}
port = {port}
banaction = iptables-multiport
maxretry = {maxretry}
findtime = 600
bantime = 600
"""

PROBES = [TcpEcho(C, R, PORT, 4), TcpEcho(C, R, PORT, 6),
          TcpEcho(C, R, PORT, 4, src_addr=SPARED), TcpEcho(C, R, OTHER_PORT, 4)]
EXPECTED = {
    "before": ["open", "open", "open", "open"],
    "banned": ["refused", "refused", "open", "open"],
    "unbanned": ["open", "open", "open", "open"],
}


class Fail2ban:
    """fail2ban-server in a ClientHost, configured in `directory`."""

    def __init__(self, lab, host, directory, log):
        self.host = host
        self.config = os.path.join(directory, "fail2ban")
        shutil.copytree("/etc/fail2ban", self.config)
        shutil.rmtree(os.path.join(self.config, "jail.d"))
        os.mkdir(os.path.join(self.config, "jail.d"))
        self.socket = os.path.join(directory, "fail2ban.sock")
        pidfile = os.path.join(directory, "fail2ban.pid")
        with open(os.path.join(self.config, "fail2ban.local"), "w") as f:
            f.write(f"[Definition]\nloglevel = INFO\nlogtarget = STDERR\nsocket = {self.socket}\n"
                    f"pidfile = {pidfile}\n"
                    f"dbfile = {os.path.join(directory, 'fail2ban.sqlite3')}\n")
        with open(os.path.join(self.config, "filter.d", JAIL + ".conf"), "w") as f:
            f.write(FILTER)
        with open(os.path.join(self.config, "jail.local"), "w") as f:
            f.write(JAIL_LOCAL.format(jail=JAIL, log=log, port=PORT, maxretry=MAXRETRY))
        self.log_path = os.path.join(directory, "fail2ban-server.log")
        self.log = open(self.log_path, "w")
        # nsenter execs fail2ban-server: the pid is the server's.
        self.proc = subprocess.Popen(
            host.args(["fail2ban-server", "-f", "-x", "-c", self.config, "-s", self.socket,
                       "-p", pidfile]),
            stdout=self.log, stderr=subprocess.STDOUT)
        lab.processes.append(self.proc)
        self.wait_for(lambda banned: banned == [], "the jail started")

    def client(self, *args, check=True):
        return run(["fail2ban-client", "-c", self.config, "-s", self.socket, *args], check=check)

    def banned(self):
        """The jail's banned addresses, or None while it does not answer."""
        status = self.client("status", JAIL, check=False)
        if status.returncode != 0:
            return None
        line = next(l for l in status.stdout.splitlines() if "Banned IP list:" in l)
        return sorted(line.split(":", 1)[1].split())

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + WAIT
        while True:
            banned = self.banned()
            if banned is not None and predicate(banned):
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"fail2ban: {what}: not so; banned {banned}\n"
                                     + self.server_log())
            time.sleep(0.2)

    def wait_for_action(self, command, addresses, what):
        """Waits until the action has run `command` (-I for a ban, -D for an
        unban) on each address: the jail lists an address as banned before
        its action has run."""
        def done(address):
            return any(command in call["argv"] and address in call["argv"]
                       for call in self.host.calls())
        deadline = time.monotonic() + WAIT
        while not all(done(address) for address in addresses):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"fail2ban: {what}: the action did not run\n"
                                     + self.server_log())
            time.sleep(0.2)

    def server_log(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def stop(self):
        """A clean stop, which runs the action's actionstop."""
        if self.proc.poll() is None:
            self.client("stop", check=False)
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


class Fail2banImportTest(ClientTestCase):

    def phase(self):
        outcomes = self.probe(PROBES, timeout=PHASE)
        return [outcomes[str(p)] for p in PROBES]

    def run_fail2ban(self, side):
        directory = os.path.join(self.lab.tmp, side.mode)
        os.mkdir(directory)
        log = os.path.join(directory, "auth.log")
        open(log, "w").close()
        fail2ban = Fail2ban(self.lab, side.host(), directory, log)
        try:
            self.serve(tcp={R: [PORT, OTHER_PORT]})
            result = {"before": self.phase()}
            # In this order, so that both runs ban (and start the action's
            # chains for) IPv4 first, then IPv6: their calls compare in order.
            with open(log, "a") as f:
                for address in BANNED:
                    f.write(f"Failed login from {address}\n" * MAXRETRY)
                f.write(f"Failed login from {SPARED}\n" * (MAXRETRY - 1))
            fail2ban.wait_for(lambda banned: banned == sorted(BANNED), "both addresses banned")
            fail2ban.wait_for_action("-I", BANNED, "both addresses banned")
            result["banned"] = self.phase()
            fail2ban.client("unban", *BANNED)
            fail2ban.wait_for(lambda banned: banned == [], "both addresses unbanned")
            fail2ban.wait_for_action("-D", BANNED, "both addresses unbanned")
            result["unbanned"] = self.phase()
        finally:
            fail2ban.stop()
        result["fail2ban-server exit"] = fail2ban.proc.returncode
        return result

    def check_kernel(self, result):
        self.assertEqual({k: result[k] for k in EXPECTED}, EXPECTED)
        self.assertEqual(result["fail2ban-server exit"], 0)

    def test_fail2ban(self):
        self.against_the_kernel("fail2ban", self.run_fail2ban, self.check_kernel)


if __name__ == "__main__":
    unittest.main()
