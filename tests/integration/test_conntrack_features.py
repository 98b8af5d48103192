"""What a user sees of verdictd's flow table and what the connection
extensions do to real traffic (issue 3):

listing    `verdictctl conntrack` shows a live connection with both tuples,
           state, [ASSURED] and counters, like the kernel's `conntrack -L`
           shows the same connection; its filters select it or not.
connmark   CONNMARK marks a connection; the mark decides the filter both ways,
           as in the kernel, and reaches the kernel's own entry.
connlimit  a third concurrent connection from one client is dropped, as in
           the kernel.
"""

import re
import socket
import sys
import time
import unittest

from ct_probes import EchoSession
from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, conntrack_status, ruleset_path
from probes import TcpEcho

C, R, S = CLIENT, ROUTER, SERVER


def flow_fields(line):
    """The key=value fields of one `conntrack -L` line, in order."""
    return re.findall(r"(\w+)=(\S+)", line)


def tuples(line):
    """(original, reply): each the src, dst, sport, dport of a conntrack line."""
    keys = ("src", "dst", "sport", "dport")
    fields = [(k, v) for k, v in flow_fields(line) if k in keys]
    return tuple(fields[:4]), tuple(fields[4:8])


class ConntrackFeaturesTest(LabTestCase):

    def kernel_conntrack(self, *args):
        return self.lab.ns[R].run(["conntrack", "-L", *args]).stdout.splitlines()

    def test_connmark_decides_both_ways_like_the_kernel(self):
        self.serve(tcp={S: [2224, 2225, 2226]})
        self.check_scenario("ct_connmark", [[
            (TcpEcho(C, S, 2224), "open"),  # the replies pass by the connection's mark
            (TcpEcho(C, S, 2226), "open"),
            (TcpEcho(C, S, 2225), "timeout"),
            (TcpEcho(C, S, 2224, 6), "open"),
        ]])

    def test_listing_shows_the_connection_as_the_kernel_does(self):
        self.lab.flush_conntrack()
        daemon = self.start_verdictd(ruleset_path("ct_connmark"))
        session = EchoSession(self.lab, 4, 2224)
        try:
            deadline = time.monotonic() + 5
            while session.echoed_since(0) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertGreaterEqual(session.echoed_since(0), 5, "the session does not echo")
            ours = daemon.ctl("conntrack", "-p", "tcp", "--dport", "2224", "--state",
                              "ESTABLISHED").stdout.splitlines()
            self.assertEqual(len(ours), 1, ours)
            line = ours[0]
            print(f"verdictctl conntrack: {line}", file=sys.stderr)
            self.assertRegex(line, r"^tcp      6 \d+ ESTABLISHED src=")
            self.assertIn("[ASSURED]", line)
            self.assertTrue(line.endswith(" mark=5 use=1"), line)
            original, reply = tuples(line)
            self.assertEqual(dict(original)["src"], ADDR[(C, 4)])
            self.assertEqual(dict(original)["dst"], ADDR[(S, 4)])
            self.assertEqual(dict(reply)["src"], ADDR[(S, 4)])
            packets = [int(v) for k, v in flow_fields(line) if k == "packets"]
            self.assertEqual(len(packets), 2)
            self.assertTrue(all(p >= 5 for p in packets), f"counters {packets}")

            kernel = self.kernel_conntrack("-p", "tcp", "--dport", "2224", "--state", "ESTABLISHED")
            self.assertEqual(len(kernel), 1, kernel)
            print(f"conntrack -L:         {kernel[0]}", file=sys.stderr)
            self.assertEqual(tuples(kernel[0]), (original, reply))
            self.assertIn("ESTABLISHED", kernel[0])
            # CONNMARK wrote the mark to the kernel's entry too.
            self.assertIn(" mark=5 ", kernel[0])

            def steady(lines):
                """The lines without what the running session changes between
                two listings: the timeout and the counters."""
                return [re.sub(r"packets=\d+ bytes=\d+", "packets=P bytes=B",
                               re.sub(r" 6 \d+ ", " 6 T ", l)) for l in lines]

            sport = dict(original)["sport"]
            for selecting in (["-s", ADDR[(C, 4)], "--state", "ESTABLISHED"],
                              ["-d", ADDR[(S, 4)], "--sport", sport],
                              ["--state", "ESTABLISHED", "-p", "6", "--dport", "2224"],
                              ["-f", "ipv4", "--dport", "2224", "--state", "ESTABLISHED"]):
                listed = daemon.ctl("conntrack", *selecting).stdout.splitlines()
                self.assertEqual(steady(listed), steady(ours), selecting)
            for excluding in (["-s", ADDR[(S, 4)]], ["-p", "udp"], ["--state", "TIME_WAIT"],
                              ["-f", "ipv6"], ["--sport", "2224"]):
                listed = daemon.ctl("conntrack", *excluding).stdout.splitlines()
                self.assertNotIn(steady([line])[0], steady(listed), excluding)
            refused = daemon.ctl("conntrack", "--state", "OPEN", check=False)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("unknown TCP state", refused.stderr)

            counts = conntrack_status(daemon)
            self.assertGreaterEqual(counts["marks_written"], 1, counts)
            self.assertEqual(counts["mark_errors"], 0, counts)
            self.assertGreaterEqual(counts["flows"], 1, counts)
        finally:
            session.close()

    def test_connlimit_drops_the_third_connection_like_the_kernel(self):
        self.serve(tcp={S: [2228]})

        def body(side):
            listener = self.lab.ns[S].socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((ADDR[(S, 4)], 2227))
            listener.listen(8)
            # Two connections held open (the server's kernel completes them
            # without an accept), then a third and one to another port.
            held = []
            try:
                for _ in range(2):
                    client = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
                    held.append(client)
                    client.settimeout(3)
                    client.connect((ADDR[(S, 4)], 2227))
                return self.probe([TcpEcho(C, S, 2227), TcpEcho(C, S, 2228)])
            finally:
                for client in held:
                    client.close()
                listener.close()

        kernel, ours = self.against_the_kernel(ruleset_path("ct_connlimit"), body)
        print(f"connlimit: kernel {kernel}, verdictd {ours}", file=sys.stderr)
        self.assertEqual(kernel, {"tcp-echo4 client -> server:2227": "timeout",
                                  "tcp-echo4 client -> server:2228": "open"})
        self.assertEqual(ours, kernel)

if __name__ == "__main__":
    unittest.main()
