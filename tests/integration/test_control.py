"""The control socket under hostile and clumsy clients: replies that are
always JSON (bytes that are not UTF-8 come back as \\xNN), several clients
served at once, a whole-request deadline, a request size limit, a bound on
clients, and `verdictctl reload` of a ruleset big enough to take seconds:
it waits, shows progress, and status stays quick meanwhile."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
from unittest import mock

from lab import ROUTER, verdictctl_binary
from oracle import LabTestCase, ruleset_path

R = ROUTER

MAX_CLIENTS = 16          # ControlServer::kMaxClients
MAX_REQUEST = 8 << 20   # ControlServer::kMaxRequest
DEADLINE = 2.0            # ControlServer::kRequestDeadline, seconds
# `verdictctl status` beside idle and slow clients, in seconds: generous
# beside the ~20 ms it takes, far below the 16 s or more (forever, with a
# slow client) of the server that served one client at a time.
STATUS_BOUND = 2.0
BIG_RULES = 300_000


def read_lines(sock):
    """Every line the server sends until it closes, as JSON; a reset after
    the answer (the server closed with our bytes unread) ends it too."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def connect(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(daemon.control_socket)
    return s


def raw_request(daemon, data):
    """Sends `data` as it is; returns the reply lines, parsed as JSON (which
    fails the test if they are not)."""
    with connect(daemon) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return read_lines(s)


def big_ruleset(path, rules):
    """`rules` FORWARD rules that match no lab traffic (sources in
    198.18.0.0 to 198.24.255.255), then the ACCEPT policy."""
    with open(path, "w") as f:
        f.write('{"tables": {"filter": {"FORWARD": {"policy": "ACCEPT", "rules": [\n')
        f.write(",\n".join(
            f'{{"match": {{"source": "198.{18 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}", '
            f'"protocol": "tcp", "dport": {1 + i % 65535}}}, "target": "DROP"}}'
            for i in range(rules)))
        f.write("\n]}}}}\n")


class ControlSocketTest(LabTestCase):

    def start(self):
        self.path = os.path.join(self.lab.tmp, "ruleset.json")
        shutil.copy(ruleset_path("forward_counters"), self.path)
        return self.start_verdictd(self.path)

    def assert_serving(self, daemon, context):
        if daemon.proc.poll() is not None:
            self.fail(f"{context}: verdictd ended\n{daemon.read_log()}")
        reply = raw_request(daemon, b'{"command": "status"}\n')
        self.assertEqual(len(reply), 1, reply)
        self.assertTrue(reply[0]["ok"], f"{context}: {reply}")
        self.assertIn("ruleset: ", reply[0]["text"])

    # ---- replies are always JSON ----

    def test_a_byte_that_is_not_utf8_gets_a_json_error(self):
        daemon = self.start()
        for data in (b"\xff", b"\xff\n", b'{"command": "st\xe9tus"}\n'):
            reply = raw_request(daemon, data)
            self.assertEqual(len(reply), 1, reply)
            print(f"{data!r}: {reply[0]['error']}", file=sys.stderr)
            self.assertFalse(reply[0]["ok"])
            self.assertTrue(reply[0]["error"].startswith("bad request: "), reply)
            self.assertIn("\\x", reply[0]["error"], "the byte is shown escaped")
            self.assert_serving(daemon, f"after {data!r}")

    def test_a_reload_error_quoting_half_a_character(self):
        daemon = self.start()
        with open(self.path, "wb") as f:
            f.write('{"tables": é}\n'.encode("utf-8"))
        result = daemon.ctl("reload", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(f"{self.path}:1:12:", result.stderr)
        self.assertIn("\\xc3", result.stderr, "the lead byte of é, escaped")
        reply = raw_request(daemon, b'{"command": "reload"}\n')
        self.assertFalse(reply[0]["ok"])
        self.assertIn("\\xc3", reply[0]["error"])
        self.assert_serving(daemon, "after the reloads")
        self.assertIn(f"reload failed: {reply[0]['error']}", daemon.read_log(),
                      "the log line is escaped alike (journalctl hides lines that are not UTF-8)")
        print(f"half of é: {reply[0]['error']}", file=sys.stderr)

    def test_status_after_a_failed_sighup_reload_of_a_latin1_file(self):
        daemon = self.start()
        with open(self.path, "wb") as f:
            f.write('{"tables": {"filter": {"FORWARD": {"policy": "ACCÉPT"}}}}\n'.encode("latin-1"))
        daemon.reload_by_signal()
        # systemd ignores a STATUS= that is not UTF-8: escaped, it shows.
        self.assertIn("reload failed: ", daemon.statuses()[-1])
        self.assertIn("\\xc9", daemon.statuses()[-1])
        status = daemon.ctl("status").stdout
        line = next(l for l in status.splitlines() if l.startswith("last reload: failed: "))
        self.assertIn("\\xc9", line, "Latin-1 É, escaped")
        self.assert_serving(daemon, "after status")
        print(f"Latin-1: {line}", file=sys.stderr)

    # ---- several clients, deadline, limits ----

    def timed_status(self, daemon):
        started = time.monotonic()
        result = daemon.ctl("status", check=False)
        took = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr)
        return took

    def test_idle_and_slow_clients_hold_up_no_other(self):
        """Eight clients that send nothing and one that sends a byte every
        0.2 s: another client's status is answered at once, and each of the
        nine is told its request was not complete in time, at the deadline."""
        daemon = self.start()
        idle = [connect(daemon) for _ in range(8)]
        connected = time.monotonic()
        slow = connect(daemon)
        slow_outcome = {}

        def trickle():
            try:
                for byte in b'{"command": "status"}\n':
                    slow.send(bytes([byte]))
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass  # cut off: what the deadline is for

        def slow_reader():
            slow_outcome["reply"] = read_lines(slow)
            slow_outcome["after"] = time.monotonic() - connected

        threads = [threading.Thread(target=trickle), threading.Thread(target=slow_reader)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            took = self.timed_status(daemon)
            print(f"status beside 8 idle clients and a slow one: {took * 1000:.0f} ms",
                  file=sys.stderr)
            self.assertLess(took, STATUS_BOUND)
            for s in idle:
                reply = read_lines(s)
                self.assertEqual(reply, [{"ok": False,
                                          "error": "request not complete within 2 s"}])
            idle_after = time.monotonic() - connected
        finally:
            for t in threads:
                t.join()
            for s in idle + [slow]:
                s.close()
        self.assertEqual(slow_outcome["reply"],
                         [{"ok": False, "error": "request not complete within 2 s"}],
                         "the slow client is cut off at the deadline, not served")
        print(f"deadline: the idle clients were told after {idle_after:.2f} s, the slow one "
              f"after {slow_outcome['after']:.2f} s", file=sys.stderr)
        self.assertLess(idle_after, DEADLINE + 1.0)
        self.assertLess(slow_outcome["after"], DEADLINE + 1.0)
        self.assert_serving(daemon, "after the deadline")

    def test_clients_beyond_the_bound_are_told_busy(self):
        daemon = self.start()
        idle = [connect(daemon) for _ in range(MAX_CLIENTS)]
        try:
            time.sleep(0.3)
            started = time.monotonic()
            result = daemon.ctl("status", check=False)
            took = time.monotonic() - started
            self.assertEqual(result.returncode, 1)
            self.assertEqual(result.stderr, f"verdictctl: busy: {MAX_CLIENTS} clients are being "
                                            "served; try again\n")
            self.assertLess(took, 1.0, "the refusal comes at once")
            for s in idle:
                read_lines(s)  # the deadline frees them
        finally:
            for s in idle:
                s.close()
        self.assert_serving(daemon, f"after {MAX_CLIENTS} idle clients")

    def test_an_oversize_request_is_refused(self):
        daemon = self.start()
        request = json.dumps({"command": "status", "padding": "x" * MAX_REQUEST}).encode() + b"\n"
        with connect(daemon) as s:
            def send():
                try:
                    s.sendall(request)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server stopped reading past the limit
            sender = threading.Thread(target=send)
            sender.start()
            reply = read_lines(s)
            sender.join()
        self.assertEqual(reply, [{"ok": False,
                                  "error": f"request too long: more than {MAX_REQUEST} bytes"}])
        # At the limit, a request is still read and answered.
        padding = MAX_REQUEST - len(json.dumps({"command": "status", "padding": ""}))
        reply = raw_request(daemon, json.dumps({"command": "status",
                                                "padding": "x" * padding}).encode() + b"\n")
        self.assertTrue(reply[0]["ok"], reply)
        # Nesting as deep as the limit allows is parsed without recursion.
        reply = raw_request(daemon, b"[" * (MAX_REQUEST - 1) + b"\n")
        self.assertFalse(reply[0]["ok"], reply)
        self.assert_serving(daemon, "after the oversize request")

    # ---- a reload that takes seconds ----

    def test_a_long_reload_is_waited_for_with_progress(self):
        """verdictctl reload of a ruleset of 300,000 rules: it waits, shows
        progress on stderr, and succeeds; a status meanwhile is quick; a
        second reload at the same time waits for the first."""
        daemon = self.start()
        big_ruleset(self.path, BIG_RULES)
        ctl = daemon.lab.ns[R].exec_args(
            [verdictctl_binary(), "--socket", daemon.control_socket, "reload"])
        started = time.monotonic()
        first = subprocess.Popen(ctl, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        second = subprocess.Popen(ctl, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        during = []  # seconds each status took while the reload ran
        while first.poll() is None:
            during.append(self.timed_status(daemon))
            time.sleep(0.3)
        first_took = time.monotonic() - started
        out, err = first.communicate()
        out2, err2 = second.communicate(timeout=300)
        both_took = time.monotonic() - started
        self.assertEqual(first.returncode, 0, err)
        self.assertEqual(second.returncode, 0, err2)
        self.assertEqual(out, f"reloaded {self.path} ({BIG_RULES} rules)\n")
        self.assertEqual(out2, out)
        progress = err.splitlines()
        self.assertTrue(progress, "no progress shown")
        self.assertTrue(all(re.fullmatch(r"verdictctl: .*\u2026 \d+\.\d s", l) for l in progress),
                        progress)
        self.assertIn(f"verdictctl: loading {self.path} (reading, parsing, checking)\u2026 1.0 s",
                      progress)
        self.assertIn("waiting for the reload in progress to finish", err2)
        self.assertIn(f"ruleset: {self.path} ({BIG_RULES} rules)", daemon.ctl("status").stdout)
        slowest = max(during)
        print(f"reload of {BIG_RULES} rules: {first_took:.1f} s, both reloads {both_took:.1f} s; "
              f"{len(during)} status requests meanwhile, the slowest "
              f"{slowest * 1000:.0f} ms; progress: {progress[0]} .. {progress[-1]}",
              file=sys.stderr)
        self.assertGreater(len(during), 0)
        self.assertLess(slowest, STATUS_BOUND, "status waited for the reload")

    def test_the_watchdog_is_pinged_during_a_long_sighup_reload(self):
        """With systemd's watchdog (WATCHDOG_USEC, every 2 s: a ping a
        second), a SIGHUP reload of 300,000 rules runs beside the pings; the
        main thread, which sends them, reloaded itself before, and a reload
        longer than WatchdogSec got verdictd killed."""
        with mock.patch.dict(os.environ, {"WATCHDOG_USEC": "2000000"}):
            daemon = self.start()
        big_ruleset(self.path, BIG_RULES)
        since = len(daemon.notifications)
        started = time.monotonic()
        daemon.reload_by_signal(timeout=300)
        took = time.monotonic() - started
        lines = daemon.notifications[since:]
        during = lines[lines.index("RELOADING=1"):lines.index("READY=1")]
        pings = during.count("WATCHDOG=1")
        print(f"SIGHUP reload of {BIG_RULES} rules: {took:.1f} s, {pings} watchdog pings meanwhile",
              file=sys.stderr)
        self.assertIn(f"ruleset: {self.path} ({BIG_RULES} rules)", daemon.ctl("status").stdout)
        self.assertGreaterEqual(took, 2.0, "the reload must outlast a ping period or two")
        self.assertGreaterEqual(pings, int(took) // 2, "the watchdog went unpinged")


if __name__ == "__main__":
    unittest.main()
