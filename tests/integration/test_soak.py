"""Soak and fault tests (issue 9). VERDICTD_SOAK=short (the default, part of
the normal run) or long:

syn flood  SYNs from a million spoofed sources through a stateful gateway
           whose conntrack_max is small, for 20 s (long: 10 min): verdictd's
           memory stays bounded (printed over time), its flow table within
           conntrack_max, and it still serves a real connection afterwards;
kill -9    under a stream of datagrams through a fail-closed FORWARD hook,
           verdictd is killed and started again (2 rounds; long: 20): nothing
           arrives while no verdictd runs, and it judges again within 1 s of
           its exec;
watchdog   sd_notify read off our own NOTIFY_SOCKET, with WATCHDOG_USEC and
           WATCHDOG_PID set as systemd sets them: READY=1, then WATCHDOG=1 at
           half the interval; none while the process is SIGSTOPped for
           longer than the interval, nor while a queue worker is held in the
           middle of a burst (ptrace); pings resume when either ends. A gap
           longer than WatchdogSec is what makes systemd restart a service.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

from lab import ROUTER, Verdictd, verdictctl_binary, verdictd_binary
from oracle import LabTestCase, conntrack_status, queue_packets, ruleset_path
from probes import Tcp
from thread_stop import ThreadStop, thread_named

C, S = "client", "server"
LONG = os.environ.get("VERDICTD_SOAK", "short") == "long"

FLOOD_SECONDS = 600 if LONG else 20
FLOOD_SAMPLE_SECONDS = 10 if LONG else 2
FLOOD_PORT = 9100              # accepted as NEW by ct_churn
FLOOD_SOURCES = "10.64.0.0/10"  # syn_flood's spoofed sources
FLOOD_MAX_FLOWS = 10000        # conntrack_max in the test's config
# How much verdictd's RSS may grow under the flood: generous beside the
# 8 MiB it grows by with 10,000 flows; with no conntrack_max, the short flood
# alone added 50 MiB.
FLOOD_RSS_GROWTH_MIB = 32
# After the first minute (its allocator warmed up: the RSS levels off within
# 30 s), the second half of a long flood may add no more than this to the
# first half's peak.
FLOOD_WARMUP_SECONDS = 60
FLOOD_RSS_DRIFT_MIB = 4
# The router's conntrack keeps an unanswered SYN this long (the kernel's
# default is 120 s), so its own table does not take all the memory.
FLOOD_KERNEL_SYN_TIMEOUT = 5

KILL_ROUNDS = 20 if LONG else 2
KILL_DOWN_SECONDS = 0.5
KILL_RESTART_BOUND = 1.0       # exec to the first judged packet
# A datagram verdictd accepted just before it died may still be on its way
# through the router's softirq.
KILL_GRACE = 0.05
STREAM_PORT = 9000             # accepted by forward_counters
SO_TIMESTAMPNS = 35            # <asm-generic/socket.h>; Python does not name it

WATCHDOG_USEC = 2_000_000      # WatchdogSec=2: verdictd pings every second
STOP_SECONDS = 3.5             # SIGSTOP, and a held worker, for longer than that
STALL_LIMIT = 5                # daemon.cpp's kStallLimit


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for {pid}")


def syn_flood_binary():
    path = os.environ.get("SYN_FLOOD")
    if path:
        return path
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(os.environ.get("VERDICTD_BUILD_DIR", os.path.join(top, "build")),
                        "tests", "syn_flood")


def judged_packets(daemon):
    return sum(packets for _, packets in queue_packets(daemon.ctl("status").stdout).values())


class TimedDatagrams:
    """Numbered UDP datagrams from the client to the server's STREAM_PORT,
    1000 a second, while the body runs. Each arrival is kept with the time
    the server's kernel received it (SO_TIMESTAMPNS, CLOCK_REALTIME)."""

    def __init__(self, lab):
        self.sent = 0
        self.arrivals = []  # (kernel receive time, number)
        self.stopping = threading.Event()
        self.sink = lab.ns[S].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sink.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sink.bind(("10.2.0.2", STREAM_PORT))
        self.sink.settimeout(0.2)
        self.sender = lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sender.connect(("10.2.0.2", STREAM_PORT))
        self.threads = [threading.Thread(target=self._receive), threading.Thread(target=self._send)]

    def _receive(self):
        while not self.stopping.is_set():
            try:
                data, ancillary, _, _ = self.sink.recvmsg(64, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    self.arrivals.append((seconds + nanoseconds / 1e9,
                                          int.from_bytes(data, "big")))

    def _send(self):
        start = time.monotonic()
        while not self.stopping.is_set():
            for _ in range(5):
                self.sender.send(self.sent.to_bytes(4, "big"))
                self.sent += 1
            time.sleep(max(0.0, start + self.sent / 1000 - time.monotonic()))

    def arrived_between(self, start, end):
        return [number for at, number in list(self.arrivals) if start < at < end]

    def first_arrival_after(self, start, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            later = [at for at, _ in list(self.arrivals) if at > start]
            if later:
                return min(later)
            time.sleep(0.01)
        return None

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join()
        self.sink.close()
        self.sender.close()


class NotifyReader:
    """The socket systemd would listen on (NOTIFY_SOCKET): every line a
    process sends there, with the monotonic time it arrived."""

    def __init__(self, path):
        self.path = path
        self.lines = []  # (time, line)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        self.socket.settimeout(0.1)
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self):
        while not self.closing.is_set():
            try:
                data = self.socket.recv(4096).decode()
            except socket.timeout:
                continue
            now = time.monotonic()
            self.lines.extend((now, line) for line in data.splitlines())

    def times_of(self, wanted, start=0.0, end=float("inf")):
        return [at for at, line in list(self.lines) if line == wanted and start <= at <= end]

    def wait_for(self, predicate, since, timeout):
        """The time of the first line after `since` satisfying predicate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if at > since and predicate(line):
                    return at
            time.sleep(0.02)
        raise AssertionError(f"no such notification in {timeout} s; got {self.lines}")

    def close(self):
        self.closing.set()
        self.thread.join()
        self.socket.close()


class SoakTest(LabTestCase):

    # ---- a SYN flood of spoofed sources ----

    def test_syn_flood_keeps_memory_bounded(self):
        config = os.path.join(self.lab.tmp, "soak.json")
        with open(config, "w") as f:
            json.dump({"ruleset": ruleset_path("ct_churn"), "conntrack_max": FLOOD_MAX_FLOWS}, f)
        # The server's answers to the spoofed sources go nowhere.
        self.lab.ns[S].ip_batch([f"route add blackhole {FLOOD_SOURCES}"])
        self.addCleanup(self.lab.ns[S].ip_batch, [f"route del blackhole {FLOOD_SOURCES}"])
        timeout = "net.netfilter.nf_conntrack_tcp_timeout_syn_sent"
        self.lab.ns[ROUTER].sysctl({timeout: FLOOD_KERNEL_SYN_TIMEOUT})
        self.addCleanup(self.lab.ns[ROUTER].sysctl, {timeout: 120})
        self.serve(tcp={S: [FLOOD_PORT]})
        daemon = self.start_verdictd(config=config)
        before = rss_mib(daemon.proc.pid)

        flood = subprocess.Popen(self.lab.ns[C].exec_args(
            [syn_flood_binary(), "10.2.0.2", str(FLOOD_PORT), str(FLOOD_SECONDS)]),
            stdout=subprocess.PIPE, text=True)
        self.lab.processes.append(flood)
        started = time.monotonic()
        samples = []  # (seconds, RSS MiB, flows)
        judged_before, sampled = judged_packets(daemon), started
        while flood.poll() is None:
            time.sleep(FLOOD_SAMPLE_SECONDS)
            now, judged = time.monotonic(), judged_packets(daemon)
            samples.append((now - started, rss_mib(daemon.proc.pid),
                            conntrack_status(daemon)["flows"]))
            rate = (judged - judged_before) / (now - sampled)
            print(f"syn flood {samples[-1][0]:5.0f} s: verdictd RSS {samples[-1][1]:6.1f} MiB, "
                  f"flows {samples[-1][2]}, judged {rate:.0f} packets/s", file=sys.stderr,
                  flush=True)
            judged_before, sampled = judged, now
        result = flood.communicate()[0].strip()
        status = conntrack_status(daemon)
        total = judged_packets(daemon)
        print(f"syn flood: {result}; verdictd judged {total} packets; evicted {status['evicted']} "
              f"refused {status['refused']}; RSS {before:.1f} MiB before, at most "
              f"{max(mib for _, mib, _ in samples):.1f} MiB", file=sys.stderr)

        self.assertEqual(flood.returncode, 0, result)
        most = max(flows for _, _, flows in samples)
        self.assertLessEqual(most, FLOOD_MAX_FLOWS, "the flow table outgrew conntrack_max")
        self.assertEqual(most, FLOOD_MAX_FLOWS, "the flood never filled the flow table")
        self.assertLess(max(mib for _, mib, _ in samples), before + FLOOD_RSS_GROWTH_MIB,
                        "verdictd's memory is not bounded")
        warm = [mib for at, mib, _ in samples if at >= FLOOD_WARMUP_SECONDS]
        if len(warm) >= 4:
            half = len(warm) // 2
            self.assertLess(max(warm[half:]), max(warm[:half]) + FLOOD_RSS_DRIFT_MIB,
                            "verdictd's memory kept growing under the flood")
        self.assertEqual(list(self.probe([Tcp(C, S, FLOOD_PORT, 4)]).values()), ["open"],
                         "verdictd no longer serves after the flood")

    # ---- kill -9 under load ----

    def test_kill_9_under_load_passes_nothing_and_restarts_quickly(self):
        path = ruleset_path("forward_counters")
        daemon = self.start_verdictd(path)
        with TimedDatagrams(self.lab) as stream:
            for round_number in range(1, KILL_ROUNDS + 1):
                time.sleep(1)
                serving = stream.arrived_between(time.time() - 0.5, time.time())
                self.assertTrue(serving, f"round {round_number}: nothing arrives before the kill")
                daemon.send_signal(signal.SIGKILL)
                daemon.proc.wait(timeout=10)
                dead, first_down = time.time(), stream.sent
                time.sleep(KILL_DOWN_SECONDS)
                last_down, started = stream.sent, time.time()
                daemon = Verdictd(self.lab, path, (), None)
                self.daemons.append(daemon)
                daemon.wait_ready()
                ready = time.time()
                first = stream.first_arrival_after(started, timeout=5)
                passed = stream.arrived_between(dead + KILL_GRACE, started)
                leaked = [n for n in stream.arrived_between(dead, float("inf"))
                          if first_down <= n < last_down]
                to_first = "none in 5 s" if first is None else f"{(first - started) * 1000:.0f} ms"
                print(f"kill -9 round {round_number}: {(started - dead) * 1000:.0f} ms without "
                      f"verdictd, {len(passed)} datagrams arrived meanwhile, "
                      f"{len(leaked)} of the {last_down - first_down} sent then ever arrived; exec "
                      f"to READY=1 {(ready - started) * 1000:.0f} ms, to the first judged packet "
                      f"{to_first}", file=sys.stderr, flush=True)
                self.assertEqual(passed, [], "datagrams passed while no verdictd ran")
                self.assertEqual(leaked, [], "datagrams sent while no verdictd ran arrived")
                self.assertIsNotNone(first, "the new verdictd does not serve")
                self.assertLess(first - started, KILL_RESTART_BOUND,
                                "the new verdictd took too long to judge its first packet")

    # ---- the watchdog ----

    def start_watched(self, path):
        """verdictd in the router with the environment systemd gives a
        Type=notify service with WatchdogSec=; returns (process, reader).
        Its control socket is the notify socket's path with .sock."""
        base = os.path.join(self.lab.tmp, self._testMethodName[-20:])
        reader = NotifyReader(base + ".notify")
        self.addCleanup(reader.close)
        # State and runtime files in the lab's directory, never the machine's.
        args = [verdictd_binary(), "--ruleset", path, "--control-socket", base + ".sock",
                "--runtime-directory", base + ".run", "--last-good", base + ".last-good.json"]
        if os.environ.get("VERDICTD_STEERING"):
            args += ["--steering", os.environ["VERDICTD_STEERING"]]
        env = dict(os.environ, NOTIFY_SOCKET=reader.path, WATCHDOG_USEC=str(WATCHDOG_USEC))
        # WATCHDOG_PID: verdictd's own pid, which the shell has before it
        # execs `ip netns exec`, which execs verdictd.
        proc = subprocess.Popen(
            ["sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh", *self.lab.ns[ROUTER].exec_args(args)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.lab.processes.append(proc)

        def stop():
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        self.addCleanup(stop)
        return proc, reader

    def assert_pings(self, reader, start, end, context):
        """WATCHDOG=1 all through [start, end], never further apart than
        half the interval and a bit; returns the gaps between pings."""
        pings = reader.times_of("WATCHDOG=1", start, end)
        gaps = [b - a for a, b in zip([start] + pings, pings + [end])]
        self.assertLess(max(gaps), WATCHDOG_USEC / 1e6 * 0.75,
                        f"{context}: WATCHDOG=1 came too seldom: gaps {gaps}")
        return gaps[1:-1]

    def test_watchdog_stops_while_stopped_and_resumes(self):
        proc, reader = self.start_watched(ruleset_path("forward_counters"))
        ready = reader.wait_for(lambda l: l == "READY=1", 0, timeout=10)
        self.assertEqual(reader.times_of("WATCHDOG=1", 0, ready), [], "a ping before READY=1")
        time.sleep(4)
        gaps = self.assert_pings(reader, ready, time.monotonic(), "running")
        print(f"watchdog: READY=1, then WATCHDOG=1 every {min(gaps):.2f}-{max(gaps):.2f} s "
              f"(WATCHDOG_USEC {WATCHDOG_USEC})", file=sys.stderr)

        os.kill(proc.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        time.sleep(STOP_SECONDS)
        os.kill(proc.pid, signal.SIGCONT)
        resumed_at = time.monotonic()
        resumed = reader.wait_for(lambda l: l == "WATCHDOG=1", resumed_at, timeout=2)
        last = max(reader.times_of("WATCHDOG=1", 0, stopped))
        print(f"watchdog: SIGSTOP for {STOP_SECONDS} s: no WATCHDOG=1 for {resumed - last:.2f} s "
              f"(systemd restarts after {WATCHDOG_USEC / 1e6:.0f} s); the first came "
              f"{(resumed - resumed_at) * 1000:.0f} ms after SIGCONT", file=sys.stderr)
        self.assertEqual(reader.times_of("WATCHDOG=1", stopped + 0.01, resumed_at), [],
                         "WATCHDOG=1 while the process was stopped")
        self.assertGreater(resumed - last, WATCHDOG_USEC / 1e6,
                           "systemd's watchdog would not have fired")
        time.sleep(2.5)
        self.assert_pings(reader, resumed, time.monotonic(), "after SIGCONT")

    def test_watchdog_stops_while_a_worker_is_wedged_with_packets(self):
        """The main thread sends the pings and keeps running; it stops them
        once a queue worker has held a packet for the stall limit. The
        FORWARD worker is held (ptrace) as it is about to send its verdicts."""
        self.check_wedged_worker("sendto")

    def test_watchdog_stops_while_a_worker_is_wedged_before_reading(self):
        """Held as it is about to wait for packets, the worker holds none: the
        stall shows as packets the kernel keeps for the queue while the worker
        answers none."""
        self.check_wedged_worker("poll")

    def check_wedged_worker(self, syscall):
        proc, reader = self.start_watched(ruleset_path("forward_counters"))
        reader.wait_for(lambda l: l == "READY=1", 0, timeout=10)
        control = reader.path.removesuffix(".notify") + ".sock"
        status = self.lab.ns[ROUTER].run([verdictctl_binary(), "--socket", control,
                                          "status"]).stdout
        forward = next(q for q, (hook, _) in queue_packets(status).items() if hook == "FORWARD")
        with TimedDatagrams(self.lab):
            time.sleep(0.5)
            held = ThreadStop(thread_named(proc.pid, f"vd-queue-{forward}"), syscall)
            held_at = time.monotonic()
            try:
                stalled = reader.wait_for(lambda l: l.startswith("STATUS=") and "stalled" in l,
                                          held_at, timeout=STALL_LIMIT + 3)
                time.sleep(STOP_SECONDS)
            finally:
                held.release()
            released = time.monotonic()
            resumed = reader.wait_for(lambda l: l == "WATCHDOG=1", released, timeout=2)
        status_line = next(l for at, l in reader.lines if at == stalled and "stalled" in l)
        last = max(reader.times_of("WATCHDOG=1", 0, stalled))
        print(f"watchdog: FORWARD worker held at {syscall}: \"{status_line}\" after "
              f"{stalled - held_at:.1f} s; no WATCHDOG=1 for {resumed - last:.2f} s; the first "
              f"came {(resumed - released) * 1000:.0f} ms after the release", file=sys.stderr)
        self.assertIn(f"queue {forward} (FORWARD) stalled", status_line)
        self.assertEqual(reader.times_of("WATCHDOG=1", stalled, released), [],
                         "WATCHDOG=1 while a worker was wedged")
        self.assertGreater(resumed - last, WATCHDOG_USEC / 1e6,
                           "systemd's watchdog would not have fired")


if __name__ == "__main__":
    unittest.main()
