"""-m helper under the kernel and under verdictd, the same ruleset, the same
traffic (see oracle.py).

The kernel's ftp helper is attached to tcp/21 by a rule in the router's raw
table (above verdictd's steering), in both runs. The client opens an FTP
control connection to the server, asks for passive mode (PASV, or EPSV for
IPv6), and the server's answer makes the helper expect the data connection.
FORWARD drops what it does not accept: the data connection passes only
through `-m helper --helper ftp`; a second connection to the same data port,
which nothing expects any more, is reset by `-m helper ! --helper ftp`.
SYN-counting rules name the helper (ftp, a name beginning with it, irc, ""). The data connection's echo, the second
connection's outcome and the SYN counters must be the same under both.
"""
# ctest labels: matches

import json
import os
import socket
import threading
import unittest

from lab import ADDR, CLIENT, ROUTER, SERVER
from oracle import LabTestCase, conntrack_status, listing_counters

C, R, S = CLIENT, ROUTER, SERVER
FTP_HELPER = ["-t", "raw", "-I", "PREROUTING", "1", "-p", "tcp", "--dport", "21",
              "-j", "CT", "--helper", "ftp"]
DATA_PORT = {4: 50021, 6: 50022}
TIMEOUT = 2.0  # seconds before a dropped connection counts as "timeout"


def ruleset():
    syn = {"protocol": "tcp", "syn": True}
    return {
        "comment": "the ftp helper's data connections (tests/integration/test_helper_match.py)",
        "tables": {"filter": {"FORWARD": {"policy": "DROP", "rules": [
            {"comment": "control", "match": {"protocol": "tcp", "dport": 21},
             "target": "ACCEPT"},
            {"comment": "control back", "match": {"protocol": "tcp", "sport": 21},
             "target": "ACCEPT"},
            {"comment": "ftp syn", "match": {**syn, "helper": "ftp"}},
            {"comment": "ftp prefix syn", "match": {**syn, "helper": "ftp-data"}},
            {"comment": "irc syn", "match": {**syn, "helper": "irc"}},
            {"comment": "any helper syn", "match": {**syn, "helper": ""}},
            {"comment": "ftp data", "match": {"helper": "ftp"}, "target": "ACCEPT"},
            {"comment": "not ftp syn", "match": {**syn, "!helper": "ftp"},
             "target": {"REJECT": {"reject_with": "tcp-reset"}}},
        ]}}},
    }


def passive_answer(family, port):
    """The server's answer to PASV (IPv4) or EPSV (IPv6) naming `port`."""
    if family == 4:
        numbers = ADDR[(SERVER, 4)].replace(".", ",")
        return b"227 Entering Passive Mode (%s,%d,%d).\r\n" % (numbers.encode(), *divmod(port, 256))
    return b"229 Entering Extended Passive Mode (|||%d|)\r\n" % port


class FtpServer:
    """On the server: an FTP control listener on port 21 that answers one
    passive-mode command, and a data listener that echoes each connection."""

    def __init__(self, lab, family):
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        self.family = family
        self.control = lab.ns[S].socket(af, socket.SOCK_STREAM)
        self.data = lab.ns[S].socket(af, socket.SOCK_STREAM)
        for s, port in ((self.control, 21), (self.data, DATA_PORT[family])):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ADDR[(SERVER, family)], port))
            s.listen(4)
            s.settimeout(TIMEOUT * 3)
        self.threads = [threading.Thread(target=self.answer, daemon=True),
                        threading.Thread(target=self.echo, daemon=True)]
        for t in self.threads:
            t.start()

    def answer(self):
        try:
            conn, _ = self.control.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"220 ready\r\n")
            conn.recv(64)
            conn.sendall(passive_answer(self.family, DATA_PORT[self.family]))
            conn.recv(64)  # until the client closes

    def echo(self):
        while True:
            try:
                conn, _ = self.data.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(TIMEOUT * 3)
                try:
                    while data := conn.recv(64):
                        conn.sendall(data)
                except OSError:
                    pass

    def close(self):
        for s in (self.control, self.data):
            s.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            s.close()
        for t in self.threads:
            t.join(TIMEOUT * 3)


def data_connection(lab, family):
    """"echo" when a connection to the data port carried data both ways,
    else "timeout" or "refused"."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    s = lab.ns[C].socket(af, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((ADDR[(SERVER, family)], DATA_PORT[family]))
        s.sendall(b"hello")
        return "echo" if s.recv(64) == b"hello" else "no echo"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "timeout"
    finally:
        s.close()


def ftp_session(lab, family):
    """(the expected data connection's outcome, then a second one's)."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    server = FtpServer(lab, family)
    control = lab.ns[C].socket(af, socket.SOCK_STREAM)
    control.settimeout(TIMEOUT)
    try:
        control.connect((ADDR[(SERVER, family)], 21))
        control.recv(64)
        control.sendall(b"PASV\r\n" if family == 4 else b"EPSV\r\n")
        control.recv(128)
        return data_connection(lab, family), data_connection(lab, family)
    finally:
        control.close()
        server.close()


class HelperMatchTest(LabTestCase):
    def run_once(self, side):
        backend = "legacy" if side.daemon is None else os.environ.get("VERDICTD_STEERING",
                                                                         "legacy")
        for tool in (f"iptables-{backend}", f"ip6tables-{backend}"):
            self.lab.ns[R].run([tool, *FTP_HELPER])
        outcomes = {family: ftp_session(self.lab, family) for family in (4, 6)}
        counters = {}
        for listing in side.listings("filter", "-v", "-x", "-n"):
            listing_counters(listing, "filter", counters)
        syns = {key[2]: value[0] for key, value in counters.items() if key[2].endswith("syn")}
        data_packets = counters[("filter", "FORWARD", "ftp data")][0]
        if side.daemon is not None:
            # The data SYNs found their expectations: at once, or after the
            # unread events were read, never by running out of time.
            status = conntrack_status(side.daemon)
            print(f"\nverdictd waited for events {status['event_waits']} times")
            self.assertEqual(status["event_wait_timeouts"], 0, status)
        return outcomes, syns, data_packets

    def ruleset_path(self):
        path = os.path.join(self.lab.tmp, "helper_match.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(ruleset(), f)
        return path

    def test_ftp_data_connection_passes_by_its_helper(self):
        kernel, ours = self.against_the_kernel(self.ruleset_path(), self.run_once)
        print(f"\nkernel: {kernel}\nverdictd: {ours}")
        expected_outcomes = {4: ("echo", "refused"), 6: ("echo", "refused")}
        self.assertEqual(kernel[0], expected_outcomes, "the kernel's outcomes")
        # One data SYN per family passes ftp, ftp-data (it begins with
        # "ftp") and "", none irc; each family's second SYN only "! ftp".
        self.assertEqual(kernel[1], {"ftp syn": 2, "ftp prefix syn": 2, "irc syn": 0,
                                     "any helper syn": 2, "not ftp syn": 2})
        self.assertEqual(ours[:2], kernel[:2], "verdictd differs from the kernel")
        self.assertGreater(ours[2], 0, "no packet of the data connection was accepted")
        self.assertGreater(kernel[2], 0)


    def test_data_connection_open_before_the_start_keeps_its_helper(self):
        """An FTP data connection opened while no verdictd ran: verdictd,
        started then, learns it and its control connection from the
        kernel's dump (in whatever order the dump gives them) and its next
        data passes `-m helper --helper ftp` under a DROP policy."""
        path = self.ruleset_path()
        self.lab.ns[R].run(["iptables-legacy", *FTP_HELPER])
        server = FtpServer(self.lab, 4)
        self.addCleanup(server.close)
        control = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
        data = self.lab.ns[C].socket(socket.AF_INET, socket.SOCK_STREAM)
        for s in (control, data):
            s.settimeout(TIMEOUT)
            self.addCleanup(s.close)
        control.connect((ADDR[(SERVER, 4)], 21))
        control.recv(64)
        control.sendall(b"PASV\r\n")
        control.recv(128)
        data.connect((ADDR[(SERVER, 4)], DATA_PORT[4]))
        data.sendall(b"before")
        self.assertEqual(data.recv(64), b"before")
        daemon = self.start_verdictd(path)
        data.sendall(b"after the start")
        self.assertEqual(data.recv(64), b"after the start")
        counters = {}
        listing_counters(daemon.ctl("list", "-v", "-x", "-n").stdout, "filter", counters)
        print(f"\nftp data after the start: {counters[('filter', 'FORWARD', 'ftp data')]}")
        self.assertGreaterEqual(counters[("filter", "FORWARD", "ftp data")][0], 2)


if __name__ == "__main__":
    unittest.main()
