"""The example fail2ban jail and filter (packaging/fail2ban) ban on verdictd's
LOG lines. verdictd in the router logs new TCP connections to port 22 with
the prefix the filter expects and drops them, into a systemd-journald of the
test's own (lab.Journald). fail2ban-server runs in the foreground in the
router's network namespace and the journal's mount namespace, from a
configuration directory under the lab's temporary directory (never
/etc/fail2ban, never the machine's own fail2ban), with its socket, pid file
and database there too: the shipped jail and filter as they are, and a ban
action that writes the address to a file. An address that made maxretry
attempts is banned, and not before; one that made fewer is not.
"""
# ctest labels: log

import configparser
import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

from lab import ADDR, CLIENT, EXTRA_CLIENT_V4, ROUTER, TOP, Journald, Verdictd, run
from oracle import LabTestCase

SHIPPED = os.path.join(TOP, "packaging", "fail2ban")
INSTALLED = "/etc/fail2ban"  # only read
JAIL = "verdictd-ssh"
PORT = 22
PREFIX = "verdictd-ssh-drop: "
WAIT = 20  # seconds for fail2ban to read what the journal has

RULESET = {"tables": {"filter": {"INPUT": {"rules": [
    {"match": {"protocol": "tcp", "dport": PORT, "ctstate": "NEW"},
     "target": {"LOG": {"log_prefix": PREFIX}}},
    {"match": {"protocol": "tcp", "dport": PORT}, "target": "DROP"}]}}}}

# The ban action: the banned address goes to a file the test reads.
RECORD_ACTION = """[Definition]
actionstart =
actionstop =
actioncheck =
actionban = echo <ip> >> {banned}
actionunban =
"""


def shipped_maxretry():
    jail = configparser.ConfigParser()
    jail.read(os.path.join(SHIPPED, "jail.d", "verdictd.conf"))
    return jail.getint(JAIL, "maxretry")


class Fail2ban:
    """fail2ban-server with a configuration directory of its own: the shipped
    jail.d/ and filter.d/ files, a jail.conf whose default action is
    `action_text`, and fail2ban.conf naming its socket, pid file and
    database, all in `directory`."""

    def __init__(self, lab, journald, directory, action_text):
        self.directory = directory
        self.socket = os.path.join(directory, "fail2ban.sock")
        pidfile = os.path.join(directory, "fail2ban.pid")
        shutil.copytree(SHIPPED, directory)
        # What the shipped filter includes, from the installed fail2ban.
        shutil.copy(os.path.join(INSTALLED, "filter.d", "common.conf"),
                    os.path.join(directory, "filter.d"))
        os.mkdir(os.path.join(directory, "action.d"))
        with open(os.path.join(directory, "action.d", "record.conf"), "w") as f:
            f.write(action_text)
        with open(os.path.join(directory, "jail.conf"), "w") as f:
            f.write("[DEFAULT]\naction = record\n")
        with open(os.path.join(directory, "fail2ban.conf"), "w") as f:
            f.write(f"[Definition]\nloglevel = INFO\nlogtarget = STDERR\n"
                    f"socket = {self.socket}\n"
                    f"pidfile = {pidfile}\n"
                    f"dbfile = {os.path.join(directory, 'fail2ban.sqlite3')}\n")
        self.log = open(os.path.join(directory, "server.log"), "w")
        # nsenter and ip netns exec exec what they run: the pid is the server's.
        self.proc = subprocess.Popen(
            [*journald.wrapper, *lab.ns[ROUTER].exec_args(
                ["fail2ban-server", "-f", "-x", "-c", directory, "-s", self.socket,
                 "-p", pidfile])],
            stdout=self.log, stderr=subprocess.STDOUT)
        lab.processes.append(self.proc)
        deadline = time.monotonic() + WAIT
        while self.client("status", JAIL, check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fail2ban-server did not start its jail: " + self.server_log())
            time.sleep(0.2)

    def client(self, *args, check=True):
        return run(["fail2ban-client", "-c", self.directory, "-s", self.socket, *args],
                   check=check)

    def status(self):
        """(total failures seen, banned addresses) of the jail."""
        text = self.client("status", JAIL).stdout
        failed = int(re.search(r"Total failed:\s*(\d+)", text).group(1))
        banned = re.search(r"Banned IP list:(.*)", text).group(1).split()
        return failed, banned

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + WAIT
        while not predicate(*self.status()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}; status {self.status()}; " + self.server_log())
            time.sleep(0.2)

    def server_log(self):
        with open(os.path.join(self.directory, "server.log")) as f:
            return f.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()


class Fail2banTest(LabTestCase):

    def attempt(self, source):
        """One new connection to the router's port from `source`: a single
        SYN (the socket is closed before any retransmission)."""
        s = self.lab.ns[CLIENT].socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((source, 0))
            s.setblocking(False)
            s.connect_ex((ADDR[(ROUTER, 4)], PORT))
        finally:
            s.close()

    def test_the_shipped_jail_bans_on_verdictds_lines(self):
        maxretry = shipped_maxretry()
        persistent, occasional = ADDR[(CLIENT, 4)], EXTRA_CLIENT_V4[0]
        path = os.path.join(self.lab.tmp, "ruleset.json")
        with open(path, "w") as f:
            json.dump(RULESET, f)
        journald = Journald(self.lab)
        self.addCleanup(journald.stop)
        banned_file = os.path.join(self.lab.tmp, "banned")
        fail2ban = Fail2ban(self.lab, journald, os.path.join(self.lab.tmp, "fail2ban"),
                            RECORD_ACTION.format(banned=banned_file))
        self.addCleanup(shutil.rmtree, fail2ban.directory, ignore_errors=True)
        self.addCleanup(fail2ban.stop)
        daemon = Verdictd(self.lab, path, (), None, wrapper=journald.wrapper)
        self.daemons.append(daemon)
        daemon.wait_ready()

        # One attempt short of maxretry from each address: no ban yet.
        for _ in range(maxretry - 1):
            self.attempt(persistent)
            self.attempt(occasional)
        fail2ban.wait_for(lambda failed, banned: failed == 2 * (maxretry - 1),
                          "every attempt seen")
        # Time for a ban to be carried out, were one decided (the actions
        # thread takes the tickets the filter hands it every second).
        time.sleep(2)
        self.assertEqual(fail2ban.status(), (2 * (maxretry - 1), []))
        self.assertFalse(os.path.exists(banned_file))

        # The last one from the persistent address bans it, and only it.
        self.attempt(persistent)
        fail2ban.wait_for(lambda failed, banned: persistent in banned, "the address banned")
        self.assertEqual(fail2ban.status(), (2 * maxretry - 1, [persistent]))
        with open(banned_file) as f:
            self.assertEqual(f.read().split(), [persistent])

        # What fail2ban read: verdictd's LOG lines, one per attempt.
        lines = [e for e in journald.entries() if e["MESSAGE"].startswith(PREFIX)]
        self.assertEqual(len(lines), 2 * maxretry - 1)
        self.assertEqual({e["VERDICTD_SRC"] for e in lines}, {persistent, occasional})
        print(f"\nfail2ban: {persistent} banned after {maxretry} logged attempts, "
              f"{occasional} with {maxretry - 1} not")


if __name__ == "__main__":
    unittest.main()
