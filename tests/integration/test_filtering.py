"""Filtering scenarios, each checked against the kernel (see oracle.py):
INPUT, FORWARD and OUTPUT by interface, address, port and protocol; TCP flags;
ICMP types; user chains; MARK across tables and hooks; other matches; IPv4
options, IPv6 extension headers and fragments; truncated transport headers;
an interface renamed while the rules are in force."""

import unittest

from lab import CLIENT, ROUTER, SERVER
from oracle import Action, LabTestCase
from probes import Ping, RawIcmp, RawProto, RawTcp, Tcp, Udp

C, R, S, RW = CLIENT, ROUTER, SERVER, "router-wan"


class FilteringTest(LabTestCase):

    def test_forward_filter(self):
        self.serve(tcp={S: [80, 443, 8001, 8003, 22, 2222, 2323]},
                   udp={S: [53, 54, 4000, 6000]})
        self.check_scenario("forward_filter", [[
            (Tcp(C, S, 80, 4), "open"),
            (Tcp(C, S, 80, 6), "open"),
            (Tcp(C, S, 443, 4), "open"),
            (Tcp(C, S, 8001, 6), "open"),
            (Tcp(C, S, 8002, 4), "refused"),
            (Tcp(C, S, 8003, 4), "timeout"),
            (Tcp(C, S, 22, 4), "timeout"),
            (Tcp(C, S, 22, 6), "open"),
            (Tcp(C, S, 2222, 4), "open"),
            (Tcp(C, S, 2222, 6), "timeout"),
            (Tcp(C, S, 2323, 4), "timeout"),
            (Tcp(C, S, 2323, 4, src_addr="10.1.0.11"), "open"),
            (Tcp(C, S, 2323, 6), "timeout"),
            (Udp(C, S, 53, 4), "received"),
            (Udp(C, S, 53, 6), "received"),
            (Udp(C, S, 54, 4), "lost"),
            (Udp(C, S, 6000, 4), "received"),
            (Udp(C, S, 6000, 6), "received"),
            (Udp(C, S, 4000, 6), "lost"),
            (Udp(C, S, 7000, 4), "refused"),
            (Udp(C, S, 7000, 6), "refused"),
            (Ping(C, S, 4), "reply"),
            (Ping(C, S, 6), "none"),
            (RawProto(C, S, 132, 4), "delivered"),
            (RawProto(C, S, 132, 6), "delivered"),
            (RawProto(C, S, 47, 4), "dropped"),
        ]])

    def test_input_filter(self):
        self.serve(tcp={R: [22, 8080, 8081]}, udp={R: [53, 54, 5353]})
        self.check_scenario("input_filter", [[
            (Tcp(C, R, 22, 4), "open"),
            (Tcp(S, RW, 22, 4), "timeout"),
            (Tcp(C, R, 22, 6), "timeout"),
            (Tcp(C, R, 8080, 6), "open"),
            (Tcp(S, RW, 8080, 4), "open"),
            (Tcp(C, R, 8081, 4), "timeout"),
            (Tcp(C, R, 9999, 4), "refused"),
            (Udp(S, RW, 53, 4), "received"),
            (Udp(C, R, 53, 4), "lost"),
            (Udp(C, R, 5353, 6), "received"),
            (Udp(C, R, 5353, 4), "received"),
            (Udp(C, R, 5353, 4, src_addr="10.1.0.10"), "lost"),
            (Ping(C, R, 4), "reply"),
            (Ping(C, R, 6), "reply"),
            (Ping(S, RW, 6), "reply"),
            (RawIcmp(C, R, 13), "dropped"),
            (RawIcmp(C, R, 8, 0), "delivered"),
        ]])

    def test_output_filter(self):
        self.serve(tcp={S: [8080, 8081, 8082], R: [22, 2200]}, udp={S: [53], C: [53]})
        self.check_scenario("output_filter", [[
            (Tcp(R, S, 8080, 4), "open"),
            (Tcp(R, S, 8080, 6), "open"),
            (Tcp(R, S, 8081, 4), "open"),
            (Tcp(R, S, 8081, 6), "timeout"),
            (Tcp(R, S, 8082, 4), "timeout"),
            (Ping(R, S, 4), "reply"),
            (Ping(R, S, 6), "none"),
            (Udp(R, S, 53, 4), "received"),
            (Udp(R, C, 53, 4), "lost"),
            (Tcp(C, R, 22, 4), "open"),
            (Tcp(C, R, 2200, 4), "timeout"),
        ]])

    def test_tcp_flags(self):
        self.serve(tcp={S: [8090, 8091, 8092, 8097]})
        self.check_scenario("tcp_flags", [[
            (Tcp(C, S, 8090, 4), "timeout"),
            (Tcp(C, S, 8090, 6), "timeout"),
            (Tcp(C, S, 8091, 4), "timeout"),
            (Tcp(C, S, 8092, 4), "open"),
            (Tcp(C, S, 8097, 6), "open"),
            (RawTcp(C, S, 8093, "SYN"), "delivered"),
            (RawTcp(C, S, 8093, "FIN,PSH,URG"), "dropped"),
            (RawTcp(C, S, 8093, "FIN,PSH,URG,ACK"), "delivered"),
            (RawTcp(C, S, 8093, "FIN,PSH,URG,ECE,CWR"), "dropped"),
            (RawTcp(C, S, 8093, ""), "dropped"),
            (RawTcp(C, S, 8093, "", family=6), "dropped"),
            (RawTcp(C, S, 8095, "SYN"), "dropped"),
            (RawTcp(C, S, 8095, "SYN", family=6), "dropped"),
            (RawTcp(C, S, 8095, "SYN,ACK"), "delivered"),
            (RawTcp(C, S, 8095, "SYN,FIN"), "delivered"),
            (RawTcp(C, S, 8095, "SYN,PSH,ECE,CWR"), "dropped"),
            (RawTcp(C, S, 8096, "SYN"), "dropped"),
            (RawTcp(C, S, 8096, "ACK"), "delivered"),
            (RawTcp(C, S, 8096, "FIN,ACK", family=6), "delivered"),
            (RawTcp(C, S, 8097, "ACK"), "dropped"),
            (RawTcp(C, S, 8097, "SYN"), "delivered"),
        ]])

    def test_icmp_types(self):
        self.check_scenario("icmp_types", [[
            (Ping(C, S, 4), "reply"),
            (Ping(S, C, 4), "reply"),
            (Ping(C, S, 6), "reply"),
            (RawIcmp(C, S, 8, 5), "delivered"),
            (RawIcmp(C, S, 13), "dropped"),
            (RawIcmp(C, S, 3, 3), "delivered"),
            (RawIcmp(C, S, 3, 1), "dropped"),
            (RawIcmp(C, S, 11, 1), "delivered"),
            (RawIcmp(C, S, 5, 1), "dropped"),
            (Udp(C, S, 7000, 4), "refused"),
            (Udp(C, S, 7001, 6), "refused"),
            (RawIcmp(C, S, 2, 0, family=6), "delivered"),
            (RawIcmp(C, S, 3, 0, family=6), "dropped"),
            (RawIcmp(C, S, 1, 3, family=6), "delivered"),
            (RawIcmp(C, S, 1, 4, family=6), "dropped"),
            (RawIcmp(S, C, 137, 0, family=6), "dropped"),
            (RawIcmp(S, C, 4, 0, family=6), "delivered"),
        ]])

    def test_user_chains(self):
        self.serve(tcp={S: list(range(8080, 8087))}, udp={S: list(range(9000, 9005))})
        self.check_scenario("chains", [[
            (Tcp(C, S, 8080, 4), "open"),
            (Tcp(C, S, 8081, 4), "open"),
            (Tcp(C, S, 8082, 4), "timeout"),
            (Tcp(C, S, 8083, 4), "open"),
            (Tcp(C, S, 8084, 4), "open"),
            (Tcp(C, S, 8084, 6), "open"),
            (Tcp(C, S, 8085, 4), "timeout"),
            (Tcp(C, S, 8086, 4), "timeout"),
            (Tcp(C, S, 8087, 4), "refused"),
            (Udp(C, S, 9000, 4), "received"),
            (Udp(C, S, 9001, 4), "received"),
            (Udp(C, S, 9001, 6), "received"),
            (Udp(C, S, 9002, 4), "received"),
            (Udp(C, S, 9003, 4), "received"),
            (Udp(C, S, 9004, 4), "lost"),
        ]])

    def test_mark_in_mangle_matched_in_filter(self):
        self.serve(tcp={S: [8080, 8081]}, udp={S: [9000, 9001]})
        self.check_scenario("mangle_mark", [[
            (Tcp(C, S, 8080, 4), "open"),
            (Tcp(C, S, 8080, 6), "open"),
            (Tcp(C, S, 8081, 4), "timeout"),
            (Udp(C, S, 9000, 4), "received"),
            (Udp(C, S, 9000, 6), "received"),
            (Udp(C, S, 9001, 4), "lost"),
            (Ping(C, S, 4), "reply"),
            (Ping(C, S, 6), "reply"),
        ]])

    def test_misc_matches(self):
        self.serve(udp={S: [7100, 7101, 7200, 7201, 7202, 7203, 7300, 7301, 7400], C: [7301, 7302]})
        self.check_scenario("misc_matches", [[
            (Udp(C, S, 7100, 4, size=20), "received"),
            (Udp(C, S, 7100, 4, size=500), "lost"),
            (Udp(C, S, 7101, 4, size=20), "received"),
            (Udp(C, S, 7101, 4, size=100), "lost"),
            (Udp(C, S, 7101, 6, size=20), "received"),
            (Udp(C, S, 7200, 4, ttl=5), "lost"),
            (Udp(C, S, 7200, 4, ttl=64), "received"),
            (Udp(C, S, 7201, 4, ttl=64), "lost"),
            (Udp(C, S, 7201, 4, ttl=63), "received"),
            (Udp(C, S, 7202, 6, ttl=64), "received"),
            (Udp(C, S, 7202, 6, ttl=65), "lost"),
            (Udp(C, S, 7203, 6, ttl=64), "lost"),
            (Udp(C, S, 7203, 6, ttl=63), "received"),
            (Udp(C, S, 7203, 4, ttl=64), "received"),
            (Udp(C, S, 7300, 4, src_addr="10.1.0.12"), "lost"),
            (Udp(C, S, 7300, 4, src_addr="10.1.0.14"), "received"),
            (Udp(C, S, 7300, 6), "received"),
            (Udp(C, S, 7301, 4), "received"),
            (Udp(S, C, 7301, 4), "lost"),
            (Udp(C, S, 7400, 4, size=3000), "lost"),
            (Udp(C, S, 7400, 4, size=1000), "received"),
            (Udp(C, S, 7400, 6, size=3000), "received"),
            (Udp(S, C, 7302, 4), "lost"),
            (Udp(S, C, 7302, 6), "received"),
            (Ping(S, C, 4), "reply"),
        ]])

    def test_headers_and_fragments(self):
        self.serve(udp={S: [7500, 7501, 7502, 7600, 7601]})
        self.check_scenario("headers", [[
            (Udp(C, S, 7500, 4), "received"),
            (Udp(C, S, 7500, 6), "received"),
            (Udp(C, S, 7500, 4, size=3000), "lost"),
            (Udp(C, S, 7500, 6, size=3000), "lost"),
            (Udp(C, S, 7501, 4, size=3000, src_addr="10.1.0.15"), "received"),
            (Udp(C, S, 7501, 4, size=3000), "lost"),
            (Udp(C, S, 7502, 4), "received"),
            (Udp(C, S, 7502, 4, size=3000), "lost"),
            (Udp(C, S, 7502, 6, size=3000, src_addr="fd01::1f"), "received"),
            (Udp(C, S, 7600, 4, options=True), "lost"),
            (Udp(C, S, 7601, 4, options=True), "received"),
            (Udp(C, S, 7600, 6, options=True), "lost"),
            (Udp(C, S, 7601, 6, options=True), "received"),
            (Udp(C, S, 7601, 6, size=3000, options=True), "lost"),
        ]])

    def test_truncated_transport_headers(self):
        self.check_scenario("truncated", [[
            (RawProto(C, S, 6, 4, size=16), "dropped"),
            (RawProto(C, S, 6, 6, size=16), "dropped"),
            (RawProto(C, S, 6, 4, size=40), "delivered"),
            (RawProto(C, S, 17, 4, size=4), "dropped"),
            (RawProto(C, S, 17, 6, size=7), "dropped"),
            (RawProto(C, S, 17, 4, size=8), "delivered"),
            (RawProto(C, S, 132, 4, size=2), "dropped"),
            (RawProto(C, S, 132, 4, size=4), "delivered"),
            (RawProto(C, S, 58, 6, size=7), "dropped"),
            (RawProto(C, S, 58, 6, size=8), "delivered"),
        ]])

    def test_interface_renamed_while_running(self):
        self.serve(tcp={S: [8080]}, udp={S: [9000]})
        before = [
            (Ping(C, S, 4), "none"),
            (Tcp(C, S, 8080, 4), "timeout"),
            (Udp(C, S, 9000, 4), "received"),
        ]
        after = [
            (Ping(C, S, 4), "reply"),
            (Tcp(C, S, 8080, 4), "open"),
            (Udp(C, S, 9000, 4), "lost"),
        ]
        rename = Action("rename lan0 to inside0", lambda: self.lab.rename_router_lan("inside0"),
                        lambda: self.lab.rename_router_lan("lan0"))
        self.check_scenario("rename", [before, rename, after])


if __name__ == "__main__":
    unittest.main()
