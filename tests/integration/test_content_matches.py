"""Content and identity matches on real traffic, under the kernel and under
verdictd (content_matches.json), compared verdict by verdict and counter by
counter:

string  HTTP requests from the client to the server through the router:
        GET /admin dropped by its text, GET /secret by a --hex-string in any
        case, GET / served (the responses counted by their text, data both
        ways); a request whose "GET /" ends exactly at --to is dropped and
        one that runs a byte past it is not (skb_find_text's window).
mac     the client's connections to 8083 dropped by its MAC, to 8084 not.
owner   a router process running as nobody (setpriv) is kept from the
        server's port 9000 while root connects; the router's reset for a
        closed port comes from a kernel socket, which exists but has no
        owner.
"""

# ctest labels: matches

import socket
import sys
import threading
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, listing_counters, ruleset_path

C, R, S = CLIENT, ROUTER, SERVER

RULESET = ruleset_path("content_matches")
HTTP_PORTS = (80, 8081, 8082, 8083, 8084)
RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
TIMEOUT = 1.5

# Connects as `uid` from the router to the server's port 9000; prints the outcome.
CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(%s)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
"""


class HttpServer:
    """Answers every request on the server's HTTP ports with RESPONSE."""

    def __init__(self, lab):
        self.listeners = []
        for port in (*HTTP_PORTS, 9000):
            s = lab.ns[S].socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ADDR[(S, 4)], port))
            s.listen(16)
            self.listeners.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    @classmethod
    def _serve(cls, listener):
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            # One thread each: a request the rules drop must not hold up the next.
            threading.Thread(target=cls._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn):
        with conn:
            conn.settimeout(TIMEOUT * 2)
            try:
                if conn.recv(1024):
                    conn.sendall(RESPONSE)
            except OSError:
                pass

    def close(self):
        for s in self.listeners:
            s.close()


class ContentMatchesTest(LabTestCase):

    def setUp(self):
        super().setUp()
        self.http = HttpServer(self.lab)
        self.addCleanup(self.http.close)

    def request(self, port, path):
        """'served' when the response came back, else 'timeout'."""
        s = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
        with s:
            s.settimeout(TIMEOUT)
            try:
                s.connect((ADDR[(S, 4)], port))
                s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\n\r\n")
                data = b""
                while len(data) < len(RESPONSE):
                    chunk = s.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                return "served" if data == RESPONSE else f"got {data!r}"
            except socket.timeout:
                return "timeout"

    def connect_as(self, user, address, port):
        args = ["python3", "-c", CONNECT % TIMEOUT, address, str(port)]
        if user != "root":
            args = ["setpriv", f"--reuid={user}", "--regid=65534", "--clear-groups", *args]
        return self.lab.ns[R].run(args).stdout.strip()

    def test_content_and_owner_as_the_kernel(self):
        expected = {
            "GET /admin": "timeout", "GET /": "served", "GET /secret": "timeout",
            "GET / to 57": "timeout", "GET / to 56": "served",
            "mac 8083": "timeout", "mac 8084": "served",
            "nobody 9000": "timeout", "root 9000": "open", "root 9001": "refused",
        }

        def body(side):
            outcomes = {
                "GET /admin": self.request(80, "/admin"),
                "GET /": self.request(80, "/"),
                "GET /secret": self.request(80, "/SeCrEt"),
                "GET / to 57": self.request(8081, "/"),
                "GET / to 56": self.request(8082, "/"),
                "mac 8083": self.request(8083, "/"),
                "mac 8084": self.request(8084, "/"),
                "nobody 9000": self.connect_as("nobody", ADDR[(S, 4)], 9000),
                "root 9000": self.connect_as("root", ADDR[(S, 4)], 9000),
                "root 9001": self.connect_as("root", ADDR[("router-lo", 4)], 9001),
            }
            counters = {}
            for listing in side.listings("filter", "-v", "-x", "-n"):
                listing_counters(listing, "filter", counters)
            return outcomes, counters

        def compare(results):
            (kernel, kernel_counts), (ours, our_counts) = results
            for name, counts in sorted(kernel_counts.items()):
                print(f"{name}: kernel {counts}, verdictd {our_counts.get(name)}",
                      file=sys.stderr)
            self.assertEqual(ours, kernel)
            self.assertEqual(kernel, expected)
            # The drops' retransmissions depend on timing; the rest must agree exactly.
            timed = {"admin", "secret any case", "ends at to", "client mac", "nobody blocked",
                     "not root"}
            for name, counts in kernel_counts.items():
                if name[2] in timed:
                    self.assertGreater(counts[0], 0, name)
                    self.assertGreater(our_counts[name][0], 0, name)
                elif name[2] != "policy":
                    self.assertEqual(our_counts[name], counts, name)
            for name in ("served", "root counted", "reset with socket"):
                self.assertGreater(kernel_counts[("filter", "FORWARD" if name == "served"
                                                  else "OUTPUT", name)][0], 0, name)

        self.against_the_kernel(RULESET, body, compare=compare)


if __name__ == "__main__":
    unittest.main()
