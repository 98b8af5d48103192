"""iptables-verdictd, ip6tables-verdictd and their -save and -restore forms
against iptables-legacy in the router: the same command lines, one after
the other, give the same exit statuses, the same messages and the same
`-S` listing after every step, then the same traffic outcomes (data both
ways, v4 and v6, inbound to the router). Under verdictd: a change keeps
the counters of the rules it leaves alone; concurrent callers lose none of
each other's rules; `verdictctl save` writes what is in force, and a
reload from the file drops the runtime changes; a restore replaces the
tables it names, or changes nothing and names the line at fault."""
# ctest labels: import

import os
import re
import shlex
import tempfile
import threading
import unittest

from lab import CLIENT, ROUTER, TOP, run, verdictctl_binary
from oracle import LabTestCase
from probes import Ping, TcpEcho

C, R = CLIENT, ROUTER

ACCEPT_ALL = os.path.join(TOP, "rules", "default.json")


def command_dir():
    return os.environ.get("VERDICTD_IPTABLES_DIR",
                          os.path.join(os.environ.get("VERDICTD_BUILD_DIR",
                                                      os.path.join(TOP, "build")),
                                       "daemon", "ctl"))


# (program, arguments, exit status iptables-legacy gives). Errors of every
# kind are among them: their messages must be iptables'.
STEPS = [
    ("iptables", "-N web", 0),
    ("iptables", "-A web -p tcp --dport 80 -j ACCEPT", 0),
    ("iptables", "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", 0),
    ("iptables", "-I INPUT -i lo -j ACCEPT", 0),
    ("iptables", "-A INPUT -p tcp -j web", 0),
    ("iptables", "-A INPUT -p icmp --icmp-type echo-request -j ACCEPT", 0),
    ("iptables", "-w -P INPUT DROP", 0),
    ("iptables", "-C INPUT -p tcp -j web", 0),
    ("iptables", "-C INPUT -p tcp --dport 22 -j web", 1),
    ("iptables", "-D INPUT -p udp -j ACCEPT", 1),
    ("iptables", "-X web", 1),
    ("iptables", "-N web", 1),
    ("iptables", "-A INPUT -p tcp --dport 99999 -j ACCEPT", 2),
    ("iptables", "-A nosuch -j ACCEPT", 1),
    ("iptables", "-A INPUT -j nosuch", 2),
    ("iptables", "-I INPUT 9 -j ACCEPT", 1),
    ("iptables", "-D INPUT 9", 1),
    ("iptables", "-A INPUT --bogus", 2),
    ("iptables", "-P web ACCEPT", 1),
    ("iptables", "-t nat -P PREROUTING DROP", 2),
    ("iptables", "-L nosuch", 1),
    ("iptables", "-R INPUT 2 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", 0),
    ("iptables", "-A web -p tcp -m multiport --dports 8080,8081 -j ACCEPT", 0),
    ("iptables", "-D web -p tcp -m multiport --dports 8080,8081 -j ACCEPT", 0),
    ("iptables", "-I web 1 -p tcp --dport ssh -j DROP", 0),
    ("iptables", "-D web 1", 0),
    ("iptables", "-E web www", 0),
    ("ip6tables", "-A INPUT -i lo -j ACCEPT", 0),
    ("ip6tables", "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", 0),
    ("ip6tables", "-A INPUT -p ipv6-icmp -j ACCEPT", 0),
    ("ip6tables", "-N web6", 0),
    ("ip6tables", "-A INPUT -p tcp -j web6", 0),
    ("ip6tables", "-A web6 -p tcp --dport 8080 -j ACCEPT", 0),
    ("ip6tables", "-P INPUT DROP", 0),
]

PROBES = [
    (TcpEcho(C, R, 80, 4), "open"),
    (TcpEcho(C, R, 8080, 4), "timeout"),
    (TcpEcho(C, R, 8080, 6), "open"),
    (TcpEcho(C, R, 80, 6), "timeout"),
    (Ping(C, R, 4), "reply"),
    (Ping(C, R, 6), "reply"),
]


def same_message(text):
    """iptables' messages name its version and backend: compare without them."""
    return re.sub(r" v1\.8\.9 \((legacy|verdictd)\)", "", text)


class IptablesCommandsTest(LabTestCase):

    def commands(self, side):
        """Runs one program's command line on `side`: iptables-legacy in the
        kernel run, verdictd's commands (its socket) in the verdictd run."""
        def call(program, args, input=None):
            if side.daemon is None:
                return self.lab.ns[R].run([program.replace("tables", "tables-legacy", 1), *args],
                                          check=False, input=input)
            return self.lab.ns[R].run(
                ["env", f"VERDICTD_SOCKET={side.daemon.control_socket}",
                 os.path.join(command_dir(), program.replace("tables", "tables-verdictd", 1)),
                 *args], check=False, input=input)
        return call

    def listing(self, call):
        return [call(p, ["-S"]).stdout for p in ("iptables", "ip6tables")]

    def test_commands_listings_and_traffic_agree_with_the_kernel(self):
        self.serve(tcp={R: [80, 8080]})

        def body(side):
            call = self.commands(side)
            steps = []
            for program, args, _ in STEPS:
                result = call(program, shlex.split(args))
                steps.append((program, args, result.returncode, same_message(result.stderr),
                              self.listing(call)))
            return steps, self.probe([p for p, _ in PROBES])

        kernel, verdictd = self.against_the_kernel(ACCEPT_ALL, body)
        for (program, args, status, err, listing), (_, _, v_status, v_err, v_listing), \
                (_, _, expected) in zip(kernel[0], verdictd[0], STEPS):
            where = f"{program} {args}"
            self.assertEqual(status, expected, f"the kernel: {where}: {err}")
            self.assertEqual((v_status, v_err), (status, err), where)
            self.assertEqual(v_listing, listing, f"-S after {where}")
        self.assertEqual(verdictd[1], kernel[1])
        self.assert_outcomes(PROBES, kernel[1], "the kernel")

    def start(self):
        daemon = self.start_verdictd(ACCEPT_ALL)
        return daemon, self.commands(type("Side", (), {"daemon": daemon})())

    def test_a_change_keeps_the_counters_of_the_rules_it_leaves(self):
        self.serve(tcp={R: [80]})
        daemon, call = self.start()
        for args in ("-A INPUT -p icmp -j ACCEPT", "-A INPUT -p tcp --dport 80 -j ACCEPT"):
            self.assertEqual(call("iptables", shlex.split(args)).returncode, 0)
        self.assertEqual(self.probe([Ping(C, R, 4)])[str(Ping(C, R, 4))], "reply")

        def icmp_packets():
            text = call("iptables", ["-L", "INPUT", "-v", "-x", "-n"]).stdout
            line = next(l for l in text.splitlines() if " icmp " in f" {l} ")
            return int(line.split()[0])
        before = icmp_packets()
        self.assertGreater(before, 0)
        self.assertEqual(call("iptables", ["-A", "OUTPUT", "-p", "udp", "-j", "ACCEPT"]).returncode, 0)
        self.assertEqual(call("iptables", ["-D", "INPUT", "-p", "tcp", "--dport", "80", "-j",
                                           "ACCEPT"]).returncode, 0)
        self.assertEqual(icmp_packets(), before)

    def test_concurrent_callers_lose_nothing(self):
        daemon, call = self.start()
        ports = {0: range(1000, 1015), 1: range(2000, 2015)}
        failures = []

        def add(which):
            for port in ports[which]:
                result = call("iptables", ["-w", "-A", "OUTPUT", "-p", "udp", "--dport",
                                           str(port), "-j", "ACCEPT"])
                if result.returncode != 0:
                    failures.append(result.stderr)
        threads = [threading.Thread(target=add, args=(w,)) for w in ports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])
        rules = [l for l in call("iptables", ["-S", "OUTPUT"]).stdout.splitlines()
                 if l.startswith("-A")]
        got = [int(re.search(r"--dport (\d+)", l).group(1)) for l in rules]
        self.assertEqual(sorted(got), sorted([*ports[0], *ports[1]]))
        for which in ports:  # each caller's rules in its order
            self.assertEqual([p for p in got if p in ports[which]], list(ports[which]))

    def test_save_and_reload(self):
        daemon, call = self.start()
        self.assertEqual(call("iptables", ["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j",
                                           "DROP"]).returncode, 0)
        with tempfile.TemporaryDirectory() as directory:
            saved = os.path.join(directory, "saved.json")
            daemon.ctl("save", saved)
            self.assertIn("ok (1 rules)", run([verdictctl_binary(), "check", saved]).stdout)
            v4 = daemon.ctl("save", "-4").stdout
            self.assertIn("-A INPUT -p tcp -m tcp --dport 22 -j DROP", v4)
            self.assertEqual(call("iptables-save", []).stdout, v4)
        daemon.ctl("reload")
        self.assertEqual(call("iptables", ["-S", "INPUT"]).stdout, "-P INPUT ACCEPT\n")

    def test_restore_replaces_tables_or_changes_nothing(self):
        restore_text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                        ":blocked - [0:0]\n-A INPUT -s 192.0.2.0/24 -j blocked\n"
                        "-A blocked -j DROP\nCOMMIT\n")
        more = "*filter\n-A OUTPUT -p udp --dport 53 -j ACCEPT\nCOMMIT\n"
        bad = "*filter\n-A OUTPUT -p udp --dport 53 -j ACCEPT\n-A OUTPUT --bogus\nCOMMIT\n"

        def body(side):
            call = self.commands(side)
            out = [call("iptables", ["-A", "INPUT", "-j", "ACCEPT"]).returncode]
            out.append(call("iptables-restore", [], input=restore_text).returncode)
            out.append(call("iptables-restore", ["-n"], input=more).returncode)
            out.append(self.listing(call))
            out.append(call("iptables-restore", [], input=bad).returncode)
            out.append(self.listing(call))
            out.append(self.probe([Ping(C, R, 4)]))
            return out

        kernel, verdictd = self.against_the_kernel(ACCEPT_ALL, body)
        self.assertEqual(kernel[:4], [0, 0, 0, kernel[3]])
        self.assertEqual(verdictd[:4], kernel[:4])
        self.assertEqual(kernel[4], 1)
        self.assertEqual(verdictd[4], 1)
        self.assertEqual(verdictd[5:], kernel[5:])


if __name__ == "__main__":
    unittest.main()
