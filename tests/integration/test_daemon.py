"""verdictd as a daemon on real traffic: rule counters against the packets
sent (and against the kernel's), two queues on one hook, fail-closed and
fail-open stops, how long a stop takes, a new verdictd started while the old
one stops, reloads under traffic, a bad reload."""

import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
import unittest

from ct_probes import EchoSession
from lab import CLIENT, EXTRA_CLIENT_V4, EXTRA_CLIENT_V6, ROUTER, SERVER, Verdictd, verdictd_binary
from oracle import LabTestCase, queue_packets, ruleset_path
from probes import Ping, Tcp, Udp

C, R, S = CLIENT, ROUTER, SERVER

# SIGTERM to exit, in seconds: generous beside the ~50 ms a stop takes, and
# below the 0.6 s or more it took while threads polled for the stop request
# and each queue had to be quiet for 100 ms.
STOP_BOUND = 0.5
ECHO_PORT = 2222  # new connections allowed by ct_restart_before


def list_rows(text, chain):
    """[(packets, bytes)] of a chain's rules in `list -v --line-numbers`
    output (iptables' layout), and the policy's (packets, bytes)."""
    rows, policy, inside = [], None, False
    for line in text.splitlines():
        if line.startswith("Chain "):
            inside = line.split()[1] == chain
            if inside and "policy" in line:
                fields = line.replace("(", " ").replace(")", " ").split()
                policy = (int(fields[4]), int(fields[6]))
        elif inside and line[:1].isdigit():
            fields = line.split()
            rows.append((int(fields[1]), int(fields[2])))
    return rows, policy



class DatagramStream:
    """Numbered UDP datagrams from the client to the server's port 9000, sent
    in bursts at a steady pace on one thread and received on another while
    the body runs; both end before the body's block is left."""

    def __init__(self, lab, count, burst, period):
        self.count, self.burst, self.period = count, burst, period
        self.received, self.sent, self.sender_finished = [], 0, None
        self.sink = lab.ns[S].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sink.bind(("10.2.0.2", 9000))
        self.sink.settimeout(1.0)
        self.sender = lab.ns[C].socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sender.connect(("10.2.0.2", 9000))
        self.threads = [threading.Thread(target=self._receive), threading.Thread(target=self._send)]

    def _receive(self):
        try:
            while len(self.received) < self.count:
                self.received.append(self.sink.recv(64))
        except socket.timeout:
            pass

    def _send(self):
        start = time.monotonic()
        for i in range(0, self.count, self.burst):
            for j in range(i, i + self.burst):
                self.sender.send(j.to_bytes(4, "big"))
                self.sent += 1
            time.sleep(max(0.0, start + (i // self.burst + 1) * self.period - time.monotonic()))
        self.sender_finished = time.monotonic()

    def numbers_received(self):
        return sorted(int.from_bytes(d, "big") for d in self.received)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        for t in self.threads:
            t.join()
        self.sink.close()
        self.sender.close()

class DaemonTest(LabTestCase):

    def passes(self):
        """Probes of plain forwarded traffic (forward_counters.json accepts it)."""
        return [Ping(C, S, 4), Ping(C, S, 6), Tcp(C, S, 8080, 4), Udp(C, S, 9000, 4)]

    def assert_traffic(self, expect_pass, context):
        want = ["reply", "reply", "open", "received"] if expect_pass else \
            ["none", "none", "timeout", "lost"]
        probes = self.passes()
        self.assert_outcomes(list(zip(probes, want)), self.probe(probes), context)

    # ---- counters ----

    def send_counted_traffic(self):
        results = self.probe([Ping(C, S, 4, count=25, interval=0.005),
                              Ping(C, S, 6, count=30, interval=0.005),
                              Udp(C, S, 9000, 4, count=40),
                              Udp(C, S, 9001, 6, count=35)], timeout=3)
        self.assertEqual(sorted(results.values()),
                         ["25/25 replies", "30/30 replies", "received 35/35", "received 40/40"])

    def test_list_counters_equal_packets_sent_and_the_kernels(self):
        self.serve(udp={S: [9000, 9001]})

        def body(side):
            self.send_counted_traffic()
            if side.daemon is None:
                k4 = self.lab.kernel_counters(4, "filter", "FORWARD")
                k6 = self.lab.kernel_counters(6, "filter", "FORWARD")
                # The kernel's per-family chains hold the rules of their family, in order.
                return [k4[0], k4[1], (k4[2][0] + k6[0][0], k4[2][1] + k6[0][1]), k6[1], k6[2],
                        (k4[3][0] + k6[3][0], k4[3][1] + k6[3][1])]
            daemon = side.daemon
            rows, policy = list_rows(daemon.ctl("list", "-v", "--line-numbers").stdout, "FORWARD")
            # Replies of the v6 pings reach the policy, like everything the rules only count.
            self.assertEqual(policy[0], 25 + 25 + 30 + 30)
            daemon.ctl("zero")
            zeroed = list_rows(daemon.ctl("list", "-v", "--line-numbers").stdout, "FORWARD")
            self.assertEqual(zeroed, ([(0, 0)] * 6, (0, 0)))
            return rows

        kernel, rows = self.against_the_kernel(ruleset_path("forward_counters"), body)
        self.assertEqual([p for p, _ in rows], [25, 25, 40, 30, 35, 0])
        self.assertEqual(rows, kernel, "verdictd's (packets, bytes) per rule differ from the kernel's")
        print("counters: verdictctl list -v == packets sent == kernel", flush=True)

    def check_list_layout(self, name, family, traffic):
        """`verdictctl list -v -n --line-numbers -4/-6` prints what
        `iptables -L -v -n --line-numbers` (ip6tables) prints for the same
        ruleset after the same traffic, trailing blanks aside."""
        tool = "iptables-legacy" if family == 4 else "ip6tables-legacy"

        def body(side):
            self.probe(traffic)
            if side.daemon is None:
                listing = self.lab.ns[R].run([tool, "-L", "-v", "-n", "--line-numbers"]).stdout
            else:
                listing = side.daemon.ctl("list", "-v", "-n", "--line-numbers", f"-{family}").stdout
            return [l.rstrip() for l in listing.splitlines()]

        kernel, ours = self.against_the_kernel(ruleset_path(name), body)
        self.maxDiff = None
        self.assertEqual(ours, kernel)

    def test_list_layout_matches_iptables(self):
        self.serve(tcp={S: [8080]}, udp={S: [9000, 9001, 9003]})
        # 8082 is dropped: one SYN only (give_up before TCP retries it after
        # 1 s), or a slow phase counts a retry on one side and not the other.
        self.check_list_layout("chains", 4, [Tcp(C, S, 8080, 4), Tcp(C, S, 8082, 4, give_up=0.5),
                                             Udp(C, S, 9000, 4), Udp(C, S, 9003, 4),
                                             Ping(C, S, 4)])
        self.check_list_layout("forward_counters", 6, [Udp(C, S, 9001, 6, count=3),
                                                       Ping(C, S, 6)])

    # ---- queues ----

    def spread_traffic(self):
        """UDP from many source addresses: the kernel balances a queue range
        by address, so this reaches every queue of a small range."""
        probes = [Udp(C, S, 9000, 4, count=3, src_addr=a) for a in EXTRA_CLIENT_V4]
        probes += [Udp(C, S, 9000, 6, count=3, src_addr=a) for a in EXTRA_CLIENT_V6]
        results = self.probe(probes)
        self.assertEqual(set(results.values()), {"received 3/3"})
        return 3 * len(probes)

    def test_two_queues_on_one_hook(self):
        self.serve(udp={S: [9000]})
        daemon = self.start_verdictd(ruleset_path("forward_counters"), ["--queues-per-hook", "2"])
        sent = self.spread_traffic()
        queues = queue_packets(daemon.ctl("status").stdout)
        self.assertEqual(queues[4][0], "FORWARD")
        self.assertEqual(queues[5][0], "FORWARD")
        self.assertGreater(queues[4][1], 0, queues)
        self.assertGreater(queues[5][1], 0, queues)
        self.assertEqual(queues[4][1] + queues[5][1], sent)

    def test_queue_range_from_the_config_file(self):
        self.serve(udp={S: [9000]})
        config = os.path.join(self.lab.tmp, "verdictd.json")
        with open(config, "w") as f:
            json.dump({"ruleset": ruleset_path("forward_counters"),
                       "hooks": {"FORWARD": {"queues": "10:11"}}}, f)
        daemon = self.start_verdictd(config=config)
        sent = self.spread_traffic()
        queues = queue_packets(daemon.ctl("status").stdout)
        self.assertEqual((queues[10][0], queues[11][0]), ("FORWARD", "FORWARD"))
        self.assertGreater(queues[10][1], 0, queues)
        self.assertGreater(queues[11][1], 0, queues)
        self.assertEqual(queues[10][1] + queues[11][1], sent)

    # ---- stopping ----

    def remove_steering(self):
        args = [verdictd_binary(), "--remove-steering"]
        if os.environ.get("VERDICTD_STEERING"):
            args += ["--steering", os.environ["VERDICTD_STEERING"]]
        self.lab.ns[R].run(args)

    def check_stop(self, sig, fail_open):
        self.serve(tcp={S: [8080]}, udp={S: [9000]})
        args = ["--fail-open"] if fail_open else []
        daemon = self.start_verdictd(ruleset_path("forward_counters"), args)
        self.assert_traffic(True, "verdictd running")
        status = daemon.stop(sig)
        self.assertEqual(status, 0 if sig == signal.SIGTERM else -signal.SIGKILL, daemon.read_log())
        self.assert_traffic(fail_open, f"after {sig.name}, fail-{'open' if fail_open else 'closed'}")
        # A new verdictd takes over whatever the old one left.
        daemon = self.start_verdictd(ruleset_path("forward_counters"), args)
        self.assert_traffic(True, "verdictd started again")
        self.assertEqual(daemon.stop(), 0, daemon.read_log())
        self.remove_steering()
        self.assert_traffic(True, "steering removed, no verdictd")

    def test_fail_closed_after_sigterm(self):
        self.check_stop(signal.SIGTERM, fail_open=False)

    def test_fail_closed_after_sigkill(self):
        self.check_stop(signal.SIGKILL, fail_open=False)

    def test_fail_open_after_sigterm(self):
        self.check_stop(signal.SIGTERM, fail_open=True)

    def test_fail_open_after_sigkill(self):
        self.check_stop(signal.SIGKILL, fail_open=True)

    # ---- stopping at once, and a new verdictd following ----

    def echo_both_ways(self, context):
        """A TCP echo session per family through the stateful gateway for
        half a second: lines reach the server and come back."""
        sessions = []
        try:
            for family in (4, 6):
                try:
                    sessions.append(EchoSession(self.lab, family, ECHO_PORT))
                except OSError as e:
                    self.fail(f"{context}: IPv{family} echo session: {e}")
            time.sleep(0.5)
            for session in sessions:
                self.assertGreaterEqual(session.echoed_since(0), 3,
                                        f"{context}: the IPv{session.family} session does not echo")
        finally:
            for session in sessions:
                session.close()

    @staticmethod
    def timed_stop(daemon):
        """SIGTERM; seconds until the process has exited."""
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.proc.wait(timeout=10)
        return time.monotonic() - started

    def test_stop_is_quick_idle_and_after_traffic(self):
        path = ruleset_path("ct_restart_before")
        daemon = self.start_verdictd(path)
        idle = self.timed_stop(daemon)
        self.assertEqual(daemon.proc.returncode, 0, daemon.read_log())
        daemon = self.start_verdictd(path)
        self.echo_both_ways("verdictd running")
        busy = self.timed_stop(daemon)
        self.assertEqual(daemon.proc.returncode, 0, daemon.read_log())
        print(f"stop: {idle * 1000:.0f} ms idle, {busy * 1000:.0f} ms after traffic "
              "(SIGTERM to exit)", file=sys.stderr)
        self.assertLess(idle, STOP_BOUND, "the idle stop took too long")
        self.assertLess(busy, STOP_BOUND, "the stop after traffic took too long")
        self.assertEqual(list(self.probe([Tcp(C, S, ECHO_PORT, 4)]).values()), ["timeout"],
                         "fail-closed: the steered FORWARD drops after the stop")

    def test_fail_open_stop_under_traffic_answers_every_queued_packet(self):
        """4000 datagrams at 2000/s; SIGTERM to a fail-open verdictd early on.
        Every datagram arrives: those queued before the steering was removed
        were answered before the queues were released, the later ones pass
        unqueued."""
        count = 4000
        daemon = self.start_verdictd(ruleset_path("forward_counters"), ["--fail-open"])
        with DatagramStream(self.lab, count, burst=10, period=0.005) as stream:
            time.sleep(0.4)
            queued = sum(p for _, p in queue_packets(daemon.ctl("status").stdout).values())
            took = self.timed_stop(daemon)
            exited = time.monotonic()
        self.assertEqual(daemon.proc.returncode, 0, daemon.read_log())
        print(f"fail-open stop under traffic: {took * 1000:.0f} ms; {len(stream.received)} of "
              f"{count} datagrams arrived", file=sys.stderr)
        self.assertGreater(queued, 0, "the traffic did not go through verdictd")
        self.assertLess(exited, stream.sender_finished, "the traffic must outlast the stop")
        self.assertEqual(stream.numbers_received(), list(range(count)),
                         f"received {len(stream.received)} of {count}")

    def test_a_new_verdictd_started_during_a_stop_takes_over(self):
        """SIGTERM to the first verdictd and, without waiting for it, a
        second one with the same queues: the second comes up (waiting for
        queues the first still holds, if need be) and carries the traffic."""
        path = ruleset_path("ct_restart_before")
        first = self.start_verdictd(path)
        self.echo_both_ways("first verdictd")
        signalled = time.monotonic()
        first.send_signal(signal.SIGTERM)
        try:
            second = self.start_verdictd(path)
        except RuntimeError as e:
            self.fail(f"the second verdictd did not come up: {e}")
        ready = time.monotonic() - signalled
        self.assertEqual(first.proc.wait(timeout=10), 0, first.read_log())
        self.echo_both_ways("second verdictd")
        forward = [packets for hook, packets in queue_packets(second.ctl("status").stdout).values()
                   if hook == "FORWARD"]
        self.assertGreater(sum(forward), 0, "the traffic did not go through the second verdictd")
        how = "waited for the queues" if "waiting up to" in second.read_log() else \
            "found the queues free"
        print(f"takeover: the second verdictd was ready {ready * 1000:.0f} ms after the first's "
              f"SIGTERM; it {how}", file=sys.stderr)

    def test_a_queue_that_stays_taken_is_given_up_on(self):
        self.serve(tcp={S: [8080]}, udp={S: [9000]})
        path = ruleset_path("forward_counters")
        self.start_verdictd(path)
        started = time.monotonic()
        second = Verdictd(self.lab, path, ["--queue-wait", "1"], None)
        self.daemons.append(second)
        status = second.proc.wait(timeout=10)
        took = time.monotonic() - started
        log = second.read_log()
        self.assertEqual(status, 1, log)
        self.assertEqual(log.count(
            "verdictd: queue 0 is in use; waiting up to 1 s for it to be released\n"), 1, log)
        self.assertIn("verdictd: queue 0 is already in use by another process (another verdictd, "
                      "or a program such as suricata, is bound to it)\n", log)
        self.assertGreaterEqual(took, 1.0, "gave up before --queue-wait was over")
        self.assertLess(took, 3.0, "waited well past --queue-wait")
        print(f"queue taken: the second verdictd gave up after {took:.2f} s", file=sys.stderr)
        self.assert_traffic(True, "the running verdictd after the second one gave up")

    # ---- reloading ----

    def test_reload_under_traffic_loses_no_packet(self):
        """2400 datagrams at 1000/s through FORWARD while the ruleset is
        reloaded six times (SIGHUP and verdictctl reload in turn, the file
        alternating between two versions): all arrive, and the unchanged
        rule that accepts them counted every one across the reloads."""
        count = 2400
        path = os.path.join(self.lab.tmp, "ruleset.json")
        versions = [ruleset_path("forward_counters_reloaded"), ruleset_path("forward_counters")]
        shutil.copy(versions[1], path)
        daemon = self.start_verdictd(path)
        with DatagramStream(self.lab, count, burst=10, period=0.01) as stream:
            for i in range(6):
                time.sleep(0.3)
                shutil.copy(versions[i % 2], path)
                if i % 2:
                    daemon.ctl("reload")
                else:
                    daemon.reload_by_signal()
            last_reload = time.monotonic()
        self.assertEqual(stream.sent, count)
        self.assertEqual(stream.numbers_received(), list(range(count)),
                         f"received {len(stream.received)} of {count}")
        self.assertLess(last_reload, stream.sender_finished, "the traffic must outlast the reloads")
        rows, _ = list_rows(daemon.ctl("list", "-v", "--line-numbers").stdout, "FORWARD")
        self.assertEqual(rows[2][0], count, "the unchanged rule keeps its counter over reloads")
        self.assertEqual(len(rows), 6)
        print(f"reload: {count} datagrams sent during 6 reloads, {len(stream.received)} received",
              flush=True)

    def test_bad_ruleset_on_reload_keeps_the_old_one(self):
        self.serve(tcp={S: [80, 22, 8003]}, udp={S: [53]})
        path = os.path.join(self.lab.tmp, "ruleset.json")
        shutil.copy(ruleset_path("forward_filter"), path)
        daemon = self.start_verdictd(path)
        before = [(Tcp(C, S, 80, 4), "open"), (Tcp(C, S, 22, 4), "timeout"),
                  (Tcp(C, S, 22, 6), "open"), (Udp(C, S, 53, 4), "received"),
                  (Ping(C, S, 6), "none")]
        self.assert_outcomes(before, self.probe([p for p, _ in before]), "first ruleset")

        shutil.copy(ruleset_path("bad/port_out_of_range"), path)
        error = self.lab.ctl("check", path, check=False).stderr.strip()
        self.assertTrue(error.startswith(f"{path}:6:48: /tables/filter/INPUT/rules/1/match/dport:"),
                        error)
        result = daemon.ctl("reload", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(error, result.stderr)
        daemon.reload_by_signal()
        self.assertIn(f"reload failed: {error}; previous ruleset still in force",
                      daemon.statuses()[-1])
        self.assertIn(f"last reload: failed: {error}", daemon.ctl("status").stdout)
        self.assert_outcomes(before, self.probe([p for p, _ in before]),
                             "after the bad reloads, the first ruleset is still in force")

        shutil.copy(ruleset_path("tcp_flags"), path)
        daemon.ctl("reload")
        after = [(Tcp(C, S, 22, 4), "open"), (Ping(C, S, 6), "reply"),
                 (Tcp(C, S, 8003, 4), "open")]
        self.assert_outcomes(after, self.probe([p for p, _ in after]), "a good reload")


if __name__ == "__main__":
    unittest.main()
