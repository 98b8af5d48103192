"""What happens to NAT bindings over time (issue 4), with verdictd:

reload     changed nat rules leave existing connections alone: a session
           masqueraded before a reload keeps its binding and keeps working,
           while a new connection gets the new rules' mapping.
masquerade a MASQUERADE binding is forgotten when the address it maps to
           goes away from the out interface (the kernel's masquerade
           notifier), and only that one.
"""

import os
import re
import shutil
import sys
import time
import unittest

from ct_probes import EchoSession
from lab import ADDR, CLIENT, ROUTER, SERVER
from nat_probes import ask_tcp
from oracle import LabTestCase, ruleset_path

C, R, S = CLIENT, ROUTER, SERVER
ROUTER_WAN_V4 = ADDR[("router-wan", 4)]


class NatLifecycleTest(LabTestCase):

    def session_flows(self, daemon, port):
        return daemon.ctl("conntrack", "-p", "tcp", "--dport", str(port)).stdout.splitlines()

    def test_reload_leaves_existing_bindings_alone(self):
        path = os.path.join(self.lab.tmp, "nat.json")
        shutil.copy(ruleset_path("nat_gateway"), path)
        daemon = self.start_verdictd(path)
        session = EchoSession(self.lab, 4, 2230)
        try:
            time.sleep(0.5)
            self.assertGreaterEqual(session.echoed_since(0), 3, "the session does not echo")
            before = self.session_flows(daemon, 2230)
            self.assertEqual(len(before), 1, before)
            self.assertIn(f"dst={ROUTER_WAN_V4} sport=2230", before[0])

            shutil.copy(ruleset_path("nat_snat_elsewhere"), path)
            daemon.ctl("reload")
            reloaded = time.monotonic()
            time.sleep(1)
            echoed = session.echoed_since(reloaded)
            print(f"reload: the masqueraded session echoed {echoed} lines in the second after "
                  "the reload", file=sys.stderr)
            self.assertGreaterEqual(echoed, 5, "the existing binding did not survive the reload")
            after = self.session_flows(daemon, 2230)
            def tuples(lines):
                return [re.findall(r"\b(?:src|dst|sport|dport)=\S+", l) for l in lines]
            self.assertEqual(tuples(after), tuples(before), "the binding changed")
            self.serve(tcp={S: [2231]})
            self.assertEqual(ask_tcp(self.lab.ns[C], ADDR[(S, 4)], 2231), "timeout",
                             "a new connection must get the new mapping (10.2.0.77, unanswered)")
            new_flow = self.session_flows(daemon, 2231)
            self.assertTrue(any("dst=10.2.0.77" in l for l in new_flow), new_flow)
        finally:
            session.close()

    def test_masquerade_forgets_bindings_of_a_removed_address(self):
        daemon = self.start_verdictd(ruleset_path("nat_gateway"))
        sessions = [EchoSession(self.lab, 4, 2232), EchoSession(self.lab, 6, 2232)]
        router = self.lab.ns[R]
        try:
            time.sleep(0.5)
            self.assertEqual(len(self.session_flows(daemon, 2232)), 2)
            router.run(["ip", "addr", "del", f"{ROUTER_WAN_V4}/24", "dev", "wan0"])
            try:
                # The session's next packet may bring the kernel's (untranslated)
                # entry back as a connection whose binding is unknown: what
                # must be gone is the flow mapped to the removed address.
                def mapped_to(address, flows):
                    return [l for l in flows if f"dst={address} sport=2232" in l]
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    flows = self.session_flows(daemon, 2232)
                    if not mapped_to(ROUTER_WAN_V4, flows):
                        break
                    time.sleep(0.1)
                print(f"masquerade: after the address went away: {flows}", file=sys.stderr)
                self.assertEqual(mapped_to(ROUTER_WAN_V4, flows), [],
                                 "the IPv4 binding was not forgotten")
                self.assertEqual(len(mapped_to("fd02::1", flows)), 1,
                                 "the IPv6 binding must stay")
            finally:
                router.run(["ip", "addr", "add", f"{ROUTER_WAN_V4}/24", "dev", "wan0"])
        finally:
            for session in sessions:
                session.close()


if __name__ == "__main__":
    unittest.main()
