"""Named sets on real forwarded traffic, under the kernel (ipset and
iptables-legacy -m set in the router) and under verdictd, the same probes:

block list  a million-entry hash:net list with mixed prefixes, in `ipset
            save` text: `ipset restore` loads it for the kernel, verdictd
            reads the same file. Client source addresses inside it (a /32, a
            /31, a /28), inside a nomatch /30 within the /28, and outside;
            IPv4 and IPv6 (a smaller inet6 list). The same verdicts and rule
            counters under both; the load times are printed.
ban         the SET target bans a source for ten minutes, another for two
            seconds, which then passes again; under both. Then, verdictd
            only: `verdictctl set list|test|add|del|save` on the live set, a
            change that survives `verdictctl reload`, and one that `set save`
            carries over a restart.
list:set    a list:set of a hash:net and a hash:ip, and one SET adds to,
            from an `ipset save` dump: the same verdicts under both; then
            `verdictctl set list|test|add|del` on its members.
ranges      address ranges, networks of ip types, port ranges and service
            names in an `ipset restore` file and in `verdictctl set
            add|del|test`:
            the members verdictd lists equal those the kernel's ipset lists.
"""
# ctest labels: matches

import json
import os
import random
import subprocess
import sys
import time
import unittest

from lab import ADDR, CLIENT, EXTRA_CLIENT_V4, EXTRA_CLIENT_V6, ROUTER, SERVER, verdictctl_binary
from oracle import LabTestCase
from probes import Udp
from test_daemon import list_rows

C, R, S = CLIENT, ROUTER, SERVER
PORT = 9000
BAN_PORT, SHORT_BAN_PORT = 9666, 9667
SHORT_BAN = 2  # seconds
ENTRIES = 1_000_000

# The client's addresses in the lists: blocked ones and those a nomatch
# element lets through.
LIST_V4 = ["10.1.0.10/32", "10.1.0.12/31", "10.1.0.16/28", "10.1.0.20/30 nomatch"]
BLOCKED_V4 = {"10.1.0.10", "10.1.0.12", "10.1.0.13", "10.1.0.16", "10.1.0.17", "10.1.0.18",
              "10.1.0.19", "10.1.0.24", "10.1.0.25"}
LIST_V6 = ["fd01::10/127", "fd01::18/125", "fd01::1c/126 nomatch"]
BLOCKED_V6 = {"fd01::10", "fd01::11", "fd01::18", "fd01::19", "fd01::1a", "fd01::1b"}


def mixed_v4_list(count):
    """`count` distinct random networks, 45% /32, 25% /24, 10% /25-/31, 15%
    /16-/23, 5% /8-/15, none in 10.0.0.0/8 (the lab's addresses)."""
    rng = random.Random(12)
    seen = set()
    while len(seen) < count:
        roll = rng.randrange(100)
        length = (32 if roll < 45 else 24 if roll < 70 else rng.randint(25, 31) if roll < 80
                  else rng.randint(16, 23) if roll < 95 else rng.randint(8, 15))
        address = rng.getrandbits(32) & ((0xffffffff << (32 - length)) & 0xffffffff)
        if address >> 24 in (0, 10, 127) or address >> 24 >= 224:
            continue
        seen.add((address, length))
    return [f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}/{n}" for a, n in seen]


def mixed_v6_list(count):
    rng = random.Random(13)
    seen = set()
    while len(seen) < count:
        length = rng.choice((32, 48, 56, 64, 64, 128, 128))
        address = (0x2001 << 112 | rng.getrandbits(112)) & (((1 << 128) - 1) << (128 - length))
        seen.add((address, length))
    out = []
    for address, length in seen:
        groups = ":".join(f"{(address >> (112 - 16 * i)) & 0xffff:x}" for i in range(8))
        out.append(f"{groups}/{length}")
    return out


def ipset_dump(name, family, elements):
    return (f"create {name} hash:net family {family} hashsize 65536 maxelem 2000000\n"
            + "".join(f"add {name} {e}\n" for e in elements))


class SetsTest(LabTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = cls.lab.tmp
        cls.block_dir = os.path.join(tmp, "blocklist")
        os.mkdir(cls.block_dir)
        # The client's networks in the middle of the list, as a real one has them.
        v4 = mixed_v4_list(ENTRIES - len(LIST_V4))
        v4[len(v4) // 2:len(v4) // 2] = LIST_V4
        v6 = mixed_v6_list(10_000) + LIST_V6
        for name, family, elements in (("blk", "inet", v4), ("blk6", "inet6", v6)):
            with open(os.path.join(cls.block_dir, name + ".ipset"), "w") as f:
                f.write(ipset_dump(name, family, elements))
        cls.block_ruleset = cls.write_ruleset(cls.block_dir, {
            "blk": {"file": "blk.ipset", "format": "ipset"},
            "blk6": {"file": "blk6.ipset", "format": "ipset"},
        }, [{"match": {"set": {"name": "blk", "flags": "src"}}, "target": "DROP"},
            {"match": {"set": {"name": "blk6", "flags": "src"}}, "target": "DROP"}])

    @staticmethod
    def write_ruleset(directory, sets, rules):
        path = os.path.join(directory, "ruleset.json")
        with open(path, "w") as f:
            json.dump({"sets": sets, "tables": {"filter": {"FORWARD": {"rules": rules}}}}, f)
        return path

    def ipset(self, *args, input=None):
        return self.lab.ns[R].run(["ipset", *args], input=input)

    def destroy_at_cleanup(self, names):
        """The kernel's sets `names` destroyed once the test's rules are gone."""
        def destroy():
            self.lab.kernel_reset()
            for name in names:
                self.lab.ns[R].run(["ipset", "destroy", name], check=False)
        self.addCleanup(destroy)

    def kernel_sets(self, directory, names):
        """The sets in the router's kernel, from the same files; destroyed
        once the test's rules are gone."""
        self.destroy_at_cleanup(names)
        for name in names:
            with open(os.path.join(directory, name + ".ipset")) as f:
                text = f.read()
            start = time.monotonic()
            self.ipset("restore", input=text)
            print(f"ipset restore {name}: {time.monotonic() - start:.2f} s", file=sys.stderr)

    def rule_counters(self, side, family):
        if side.daemon is None:
            return self.lab.kernel_counters(family, "filter", "FORWARD")
        rows = list_rows(side.daemon.ctl("list", "-v", "-x", "--line-numbers", f"-{family}").stdout,
                         "FORWARD")[0]
        return [(p, b) for p, b in rows]

    def test_million_entry_block_list_like_the_kernel(self):
        self.serve(udp={S: [PORT]})
        start = time.monotonic()
        subprocess.run([verdictctl_binary(), "check", self.block_ruleset], check=True,
                       capture_output=True)
        print(f"verdictctl check of the ruleset with its {ENTRIES} + {10_000 + len(LIST_V6)} "
              f"set elements: {time.monotonic() - start:.2f} s", file=sys.stderr)
        sources = [(4, ADDR[(C, 4)])] + [(4, a) for a in EXTRA_CLIENT_V4] + \
            [(6, ADDR[(C, 6)])] + [(6, a) for a in EXTRA_CLIENT_V6]
        expected = {a: "lost" if a in BLOCKED_V4 | BLOCKED_V6 else "received" for _, a in sources}

        def body(side):
            probes = [Udp(C, S, PORT, family, src_addr=a) for family, a in sources]
            outcomes = self.probe(probes)
            verdicts = {a: outcomes[str(p)] for p, (_, a) in zip(probes, sources)}
            return verdicts, self.rule_counters(side, 4), self.rule_counters(side, 6)

        # The kernel's rules need the sets; verdictd's run does not see them.
        self.kernel_sets(self.block_dir, ["blk", "blk6"])
        start = time.monotonic()
        (kernel, kernel_v4, kernel_v6), (ours, our_v4, our_v6) = self.against_the_kernel(
            self.block_ruleset, body)
        print(f"both runs: {time.monotonic() - start:.1f} s", file=sys.stderr)
        self.assertEqual(kernel, expected)
        self.assertEqual(ours, kernel)
        print(f"rule counters: kernel v4 {kernel_v4} v6 {kernel_v6}, "
              f"verdictd v4 {our_v4} v6 {our_v6}", file=sys.stderr)
        self.assertEqual(our_v4, kernel_v4)
        self.assertEqual(our_v6, kernel_v6)
        self.assertEqual(kernel_v4[0][0], len(BLOCKED_V4))
        self.assertEqual(kernel_v6[0][0], len(BLOCKED_V6))

    # ---- the SET target and verdictctl set ----

    def ban_ruleset(self):
        directory = os.path.join(self.lab.tmp, "ban")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "ban.ipset"), "w") as f:
            f.write("create ban hash:ip family inet hashsize 1024 maxelem 65536 timeout 600\n")
        return directory, self.write_ruleset(directory, {
            "ban": {"file": "ban.ipset", "format": "ipset"},
        }, [{"match": {"set": {"name": "ban", "flags": "src"}}, "target": "DROP"},
            {"match": {"protocol": "udp", "dport": BAN_PORT},
             "target": {"SET": {"add_set": {"name": "ban", "flags": "src"}}}},
            {"match": {"protocol": "udp", "dport": SHORT_BAN_PORT},
             "target": {"SET": {"add_set": {"name": "ban", "flags": "src"}, "exist": True,
                                "timeout": SHORT_BAN}}}])

    def probe_sources(self, sources):
        probes = [Udp(C, S, PORT, 4, src_addr=a) for a in sources]
        outcomes = self.probe(probes)
        return [outcomes[str(p)] for p in probes]

    def test_set_target_bans_like_the_kernel(self):
        self.serve(udp={S: [PORT]})
        directory, ruleset = self.ban_ruleset()
        self.kernel_sets(directory, ["ban"])
        banned, briefly = "10.1.0.10", "10.1.0.11"
        sources = [banned, briefly, "10.1.0.14"]

        def body(side):
            if side.daemon is None:
                self.ipset("flush", "ban")
            seen = [self.probe_sources(sources)]
            self.probe([Udp(C, S, BAN_PORT, 4, src_addr=banned),
                        Udp(C, S, SHORT_BAN_PORT, 4, src_addr=briefly)])
            seen.append(self.probe_sources(sources))
            time.sleep(SHORT_BAN + 0.5)
            seen.append(self.probe_sources(sources))
            return seen

        kernel, ours = self.against_the_kernel(ruleset, body)
        print(f"ban: kernel {kernel}, verdictd {ours} (short ban {SHORT_BAN} s, "
              f"probed 0.5 s after)", file=sys.stderr)
        self.assertEqual(kernel, [["received"] * 3, ["lost", "lost", "received"],
                                  ["lost", "received", "received"]])
        self.assertEqual(ours, kernel)

    def test_verdictctl_set_on_the_live_daemon(self):
        self.serve(udp={S: [PORT]})
        directory, ruleset = self.ban_ruleset()
        daemon = self.start_verdictd(ruleset)
        a, b = "10.1.0.12", "10.1.0.13"
        self.assertEqual(self.probe_sources([a, b]), ["received", "received"])
        daemon.ctl("set", "add", "ban", a)
        daemon.ctl("set", "add", "ban", b, "timeout", "300")
        self.assertEqual(self.probe_sources([a, b]), ["lost", "lost"])
        listed = daemon.ctl("set", "list", "ban").stdout
        print(listed, file=sys.stderr)
        self.assertIn("Type: hash:ip\n", listed)
        self.assertIn("Number of entries: 2\n", listed)
        self.assertRegex(listed, rf"\n{a} timeout 59\d\n")
        self.assertRegex(listed, rf"\n{b} timeout (29\d|300)\n")
        self.assertIn(f"{a} is in set ban.", daemon.ctl("set", "test", "ban", a).stdout)
        refused = daemon.ctl("set", "test", "ban", "10.1.0.14", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("10.1.0.14 is NOT in set ban.", refused.stderr)
        self.assertEqual(daemon.ctl("set", "add", "ban", a, check=False).returncode, 1)
        daemon.ctl("set", "add", "ban", a, "--exist")
        daemon.ctl("set", "del", "ban", b)
        self.assertEqual(self.probe_sources([a, b]), ["lost", "received"])
        # A reload keeps the live set while its declaration is unchanged.
        daemon.ctl("reload")
        self.assertEqual(self.probe_sources([a, b]), ["lost", "received"])
        # set save writes it to its file, so a restart keeps it too.
        daemon.ctl("set", "save", "ban")
        with open(os.path.join(directory, "ban.ipset")) as f:
            saved = f.read()
        self.assertRegex(saved, rf"\nadd ban {a} timeout \d+\n")
        self.assertNotIn(b, saved)
        daemon.stop()
        self.daemons.remove(daemon)
        daemon = self.start_verdictd(ruleset)
        self.assertEqual(self.probe_sources([a, b]), ["lost", "received"])
        daemon.ctl("set", "flush", "ban")
        self.assertEqual(self.probe_sources([a, b]), ["received", "received"])
        # The saved file loads into the kernel's ipset unchanged.
        self.addCleanup(lambda: self.lab.ns[R].run(["ipset", "destroy", "ban"], check=False))
        self.ipset("restore", input=saved)
        self.assertIn(a, self.ipset("list", "ban").stdout)

    # ---- ranges ----

    RANGES = {
        "rn": ("hash:net family inet", ["10.0.0.1-10.0.0.20", "10.9.0.0-10.9.1.255 nomatch",
                                        "10.8.0.0/16"]),
        "rip": ("hash:ip family inet netmask 30", ["10.1.0.0/28", "10.1.1.5-10.1.1.9"]),
        "rp": ("hash:ip,port family inet", ["10.0.0.1-10.0.0.2,tcp:80-81", "10.0.0.5,udp:53",
                                             "10.0.0.6,tcp:ssh"]),
        "rnp": ("hash:net,port family inet", ["10.0.0.0-10.0.0.5,tcp:22"]),
        "bp": ("bitmap:port range 1-1000", ["10-12"]),
    }

    def members(self, listing):
        return sorted(listing.split("Members:\n", 1)[1].split())

    def test_ranges_expand_like_the_kernel(self):
        directory = os.path.join(self.lab.tmp, "ranges")
        os.makedirs(directory, exist_ok=True)
        for name, (create, elements) in self.RANGES.items():
            with open(os.path.join(directory, name + ".ipset"), "w") as f:
                f.write(f"create {name} {create}\n" + "".join(f"add {name} {e}\n" for e in elements))
        ruleset = self.write_ruleset(
            directory, {name: {"file": name + ".ipset", "format": "ipset"} for name in self.RANGES},
            [{"match": {"set": {"name": "rn", "flags": "src"}}, "target": "DROP"}])
        self.kernel_sets(directory, list(self.RANGES))
        daemon = self.start_verdictd(ruleset)

        def compare(name):
            kernel = self.members(self.ipset("list", name).stdout)
            ours = self.members(daemon.ctl("set", "list", name).stdout)
            print(f"{name}: kernel {kernel}\n{name}: verdictd {ours}", file=sys.stderr)
            self.assertEqual(ours, kernel, name)

        for name in self.RANGES:
            compare(name)
        # The same ranges added and deleted at runtime.
        for command, name, element in (("add", "rp", "10.0.0.7-10.0.0.8,udp:1-2"),
                                       ("add", "rn", "10.7.0.3-10.7.0.9"),
                                       ("del", "rn", "10.0.0.8-10.0.0.15"),
                                       ("add", "rip", "10.2.0.0/29"),
                                       ("del", "bp", "11-12")):
            self.ipset(command, name, element)
            daemon.ctl("set", command, name, element)
            compare(name)
        # A range stops at the first element already there, as in the kernel,
        # keeping those before it.
        kernel = self.lab.ns[R].run(["ipset", "add", "bp", "8-11"], check=False)
        ours = daemon.ctl("set", "add", "bp", "8-11", check=False)
        self.assertNotEqual(kernel.returncode, 0)
        self.assertEqual(ours.returncode, 1)
        self.assertIn("element 10 is already in set bp", ours.stderr)
        compare("bp")
        # test takes no range, in either.
        self.assertNotEqual(
            self.lab.ns[R].run(["ipset", "test", "rn", "10.0.0.1-10.0.0.2"], check=False).returncode,
            0)
        refused = daemon.ctl("set", "test", "rn", "10.0.0.1-10.0.0.2", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("a range is not allowed in test", refused.stderr)

    # ---- list:set ----

    def test_list_set_like_the_kernel(self):
        """A list:set of a hash:net (with a nomatch /30) and a hash:ip, and
        one SET adds to: the first member that matches decides, the add goes
        to the first member that takes the packet (the second, once the
        first holds it). Then verdictctl set on the list's members."""
        self.serve(udp={S: [PORT]})
        directory = os.path.join(self.lab.tmp, "lists")
        os.makedirs(directory, exist_ok=True)
        dump = ("create a hash:net family inet hashsize 1024 maxelem 65536\n"
                "add a 10.1.0.16/28\nadd a 10.1.0.20/30 nomatch\n"
                "create b hash:ip family inet hashsize 1024 maxelem 65536\nadd b 10.1.0.22\n"
                "create c hash:ip family inet hashsize 1024 maxelem 65536\n"
                "create d hash:ip family inet hashsize 1024 maxelem 65536\n"
                "create all list:set size 8\nadd all a\nadd all b\n"
                "create addl list:set size 8\nadd addl c\nadd addl d\n")
        with open(os.path.join(directory, "lists.ipset"), "w") as f:
            f.write(dump)
        from_dump = {"file": "lists.ipset", "format": "ipset"}
        ruleset = self.write_ruleset(directory, {name: from_dump for name in "abcd"} | {
            "all": from_dump, "addl": from_dump,
        }, [{"match": {"set": {"name": "all", "flags": "src"}}, "target": "DROP"},
            {"match": {"protocol": "udp", "dport": BAN_PORT},
             "target": {"SET": {"add_set": {"name": "addl", "flags": "src"}}}},
            {"match": {"set": {"name": "d", "flags": "src"}}, "target": "DROP"}])

        self.destroy_at_cleanup(("all", "addl", "a", "b", "c", "d"))
        self.ipset("restore", input=dump)
        # in a; nomatch in a but in b; nomatch in a only; in none (then added).
        sources = ["10.1.0.17", "10.1.0.22", "10.1.0.21", "10.1.0.14"]
        added = sources[3]

        def body(side):
            if side.daemon is None:
                self.ipset("flush", "c")
                self.ipset("flush", "d")
            seen = [self.probe_sources(sources)]
            for _ in range(2):
                self.probe([Udp(C, S, BAN_PORT, 4, src_addr=added)])
                seen.append(self.probe_sources([added]))
            if side.daemon is not None:
                self.list_set_commands(side.daemon, sources)
            return seen

        kernel, ours = self.against_the_kernel(ruleset, body)
        print(f"list:set: kernel {kernel}, verdictd {ours}", file=sys.stderr)
        self.assertEqual(kernel, [["lost", "lost", "received", "received"], ["received"],
                                  ["lost"]])
        self.assertEqual(ours, kernel)

    def test_list_set_members_own_timeout_counters_and_place_like_the_kernel(self):
        """A list:set created with timeout, counters and comment: its
        members' own counters decide `--packets-lt 3` (two packets from a
        member's address dropped, then passed), a member's eight-second
        timeout ends its matching, and members placed before and after
        others: the same verdicts, order and counters under both."""
        self.serve(udp={S: [PORT]})
        directory = os.path.join(self.lab.tmp, "list_extensions")
        os.makedirs(directory, exist_ok=True)
        dump = ("create a hash:net family inet hashsize 1024 maxelem 65536\n"
                "add a 10.1.0.16/30\n"
                "create b hash:ip family inet hashsize 1024 maxelem 65536\nadd b 10.1.0.22\n"
                "create c hash:ip family inet hashsize 1024 maxelem 65536\n"
                "create cl list:set size 8 timeout 600 counters comment\n"
                "add cl a timeout 8 comment \"short\"\n"
                "add cl b before a timeout 0 comment \"kept\"\n")
        members_of_cl = "".join(line + "\n" for line in dump.splitlines() if line.startswith("add cl"))
        with open(os.path.join(directory, "lists.ipset"), "w") as f:
            f.write(dump)
        from_dump = {"file": "lists.ipset", "format": "ipset"}
        ruleset = self.write_ruleset(
            directory, {name: from_dump for name in ("a", "b", "c", "cl")},
            [{"match": {"set": {"name": "cl", "flags": "src", "packets_lt": 3}},
              "target": "DROP"}])

        self.destroy_at_cleanup(("cl", "a", "b", "c"))

        def members(listing):
            """The members with their counters and comments (timeouts left
            differ by the moment they are read)."""
            out = []
            for line in listing.split("Members:\n", 1)[1].splitlines():
                words = line.split()
                out.append(" ".join(w for i, w in enumerate(words)
                                    if not (w == "timeout" or (i > 0 and words[i - 1] == "timeout"))))
            return out

        self.ipset("restore", input=dump)

        def body(side):
            if side.daemon is None:
                # The members' timeouts and counters from now, as verdictd's
                # from its start.
                self.ipset("flush", "cl")
                self.ipset("restore", input=members_of_cl)
            start = time.monotonic()
            seen = [self.probe_sources(["10.1.0.17"])]
            seen += [self.probe_sources(["10.1.0.22"]) for _ in range(4)]
            if side.daemon is None:
                add = ["ipset", "add", "cl", "c", "after", "b"]
                self.lab.ns[R].run(add)
                listing = self.ipset("list", "cl").stdout
            else:
                side.daemon.ctl("set", "add", "cl", "c", "after", "b")
                listing = side.daemon.ctl("set", "list", "cl").stdout
            listed = members(listing)
            self.assertLess(time.monotonic() - start, 8, "probed after a's timeout")
            time.sleep(max(0.0, start + 8.5 - time.monotonic()))
            seen.append(self.probe_sources(["10.1.0.17"]))
            return seen, listed

        kernel, ours = self.against_the_kernel(ruleset, body)
        print(f"list:set extensions: kernel {kernel}\nverdictd {ours}", file=sys.stderr)
        self.assertEqual(kernel[0], [["lost"], ["lost"], ["lost"], ["received"], ["received"],
                                     ["received"]])
        self.assertEqual(kernel[1], ['b packets 4 bytes 144 comment "kept"', "c packets 0 bytes 0",
                                     'a packets 1 bytes 36 comment "short"'])
        self.assertEqual(ours, kernel)

    def list_set_commands(self, daemon, sources):
        listed = daemon.ctl("set", "list", "all").stdout
        self.assertIn("Type: list:set\nHeader: size 8\n", listed)
        self.assertIn("Number of entries: 2\nMembers:\na\nb\n", listed)
        self.assertIn("b is in set all.", daemon.ctl("set", "test", "all", "b").stdout)
        self.assertEqual(daemon.ctl("set", "test", "all", "c", check=False).returncode, 1)
        refused = daemon.ctl("set", "add", "all", "addl", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("a list:set cannot hold list:sets", refused.stderr)
        self.assertEqual(daemon.ctl("set", "add", "all", "b", check=False).returncode, 1)
        daemon.ctl("set", "del", "all", "a")
        self.assertEqual(self.probe_sources(sources[:3]), ["received", "lost", "received"])
        daemon.ctl("set", "add", "all", "a")
        self.assertIn("Members:\nb\na\n", daemon.ctl("set", "list", "all").stdout)
        self.assertEqual(self.probe_sources(sources[:3]), ["lost", "lost", "received"])


if __name__ == "__main__":
    unittest.main()
