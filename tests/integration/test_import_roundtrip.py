"""`verdictctl import` against the kernel's iptables-legacy. Each file of
tests/import/corpus is restored by iptables-legacy-restore (ip6tables- for
.v6) in a network namespace of its own, after the ipsets of FILE.ipset if
there is one, and saved by iptables-legacy-save;
`verdictctl import` of the same file must give a ruleset that passes
`verdictctl check` and that `verdictctl export` prints as that save did,
comment lines and the order of tables aside. The corpus holds at least 300
rules and uses every match, target and option `verdictctl reference` lists,
each negatable one negated at least once. The files of tests/import/bad are
refused with FILE:LINE:COLUMN: naming the broken line, and nothing on stdout.
"""
# ctest labels: import

import contextlib
import difflib
import glob
import os
import re
import secrets
import shlex
import tempfile
import unittest

from lab import TOP, Namespace, run, verdictctl_binary

CORPUS = os.path.join(TOP, "tests", "import", "corpus")
BAD = os.path.join(TOP, "tests", "import", "bad")

# File in tests/import/bad -> the line `verdictctl import` must name.
BAD_FILES = {
    "unterminated_quote.v4": 5,
    "missing_commit.v4": 7,  # the line after the last, where COMMIT was due
    "unknown_option.v4": 5,
    "unknown_chain.v4": 6,
    "unknown_match.v4": 6,
    "unknown_target.v4": 5,
    "rule_before_table.v4": 2,
    "policy_for_user_chain.v4": 4,
}
# iptables-legacy-restore 1.8.9 takes an unclosed quote's text to the end of
# the line as one argument; verdictctl import refuses it all the same.
KERNEL_TAKES = {"unterminated_quote.v4"}

RULE_LINE = re.compile(r"^(\[\d+:\d+\]\s+)?(-A|--append)\s")
# The order `verdictctl export` prints tables in. iptables-legacy-save lists
# the kernel's tables newest first, and restore creates them in the order the
# file names them: that order says nothing about the ruleset, so both sides
# are compared table by table in this order.
TABLE_ORDER = ("raw", "mangle", "nat", "filter", "security")

# The rule's own options, by every spelling the corpus uses, to the long one
# `verdictctl reference` prints.
RULE_OPTIONS = {"-s": "--source", "--src": "--source", "--source": "--source",
                "-d": "--destination", "--dst": "--destination",
                "--destination": "--destination",
                "-i": "--in-interface", "--in-interface": "--in-interface",
                "-o": "--out-interface", "--out-interface": "--out-interface",
                "-p": "--protocol", "--protocol": "--protocol",
                "-f": "--fragment", "--fragment": "--fragment"}
# Other iptables aliases the corpus uses, to the spelling the reference prints.
ALIASES = {"--destination-port": "--dport", "--source-port": "--sport",
           "--destination-ports": "--dports", "--source-ports": "--sports"}
# The match a protocol loads for the options that follow it (`-p tcp --dport
# 22` means `-p tcp -m tcp --dport 22`), by name or number.
IMPLIED_MATCH = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
                 "sctp": "sctp", "132": "sctp", "icmp": "icmp", "1": "icmp",
                 "ipv6-icmp": "icmp6", "icmpv6": "icmp6", "58": "icmp6",
                 "esp": "esp", "50": "esp", "ah": "ah", "51": "ah"}


def corpus_files():
    return sorted(glob.glob(os.path.join(CORPUS, "*.v4")) + glob.glob(os.path.join(CORPUS, "*.v6")))


def is_ipv6(path):
    return path.endswith(".v6")


def rule_lines(path):
    """(line number, tokens after the chain name) of each rule of a file."""
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if RULE_LINE.match(line):
                tokens = shlex.split(RULE_LINE.sub("", line))
                yield number, tokens[1:]


def rule_uses(tokens):
    """The (section, option, negated) triples of one rule, where section is
    the match module or target the option belongs to ("" for the rule's own
    options), and the explicit -m modules in order."""
    uses, modules = set(), []
    section, negated = None, False
    words = iter(tokens)
    for word in words:
        if word == "!":
            negated = True
            continue
        if word in ("-m", "--match"):
            section = next(words)
            modules.append(section)
        elif word in ("-j", "--jump"):
            section = next(words)
            uses.add((section, None, False))
        elif word in ("-g", "--goto"):
            next(words)
        elif word in RULE_OPTIONS:
            option = RULE_OPTIONS[word]
            uses.add(("", option, negated))
            if option == "--protocol":
                section = IMPLIED_MATCH.get(next(words).lower())
            elif option != "--fragment":
                next(words)
        elif word.startswith("-"):
            uses.add((section, ALIASES.get(word, word), negated))
        negated = False
    uses.update((module, None, False) for module in modules)
    return uses, modules


def corpus_uses():
    uses = set()
    for path in corpus_files():
        for _, tokens in rule_lines(path):
            uses |= rule_uses(tokens)[0]
    return uses


def unroff(text):
    return text.replace("\\fB", "").replace("\\fR", "").replace("\\-", "-")


def reference():
    """From `verdictctl reference`: the sections (match modules, targets, and
    "" for the rule's own options), {(section, option)} of every option with
    an iptables spelling, and {(section, key): options} of every negatable
    key, an object's options being its members'."""
    sections, options, key_options, negatable = set(), set(), {}, set()
    kind, section, parent, key = None, None, None, None
    lines = run([verdictctl_binary(), "reference"]).stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            kind, section = line[4:], None
        elif line.startswith(".SS ") and kind in ("MATCHES", "TARGETS"):
            title = unroff(line[4:])
            section = title[3:] if title.startswith("-m ") else "" if kind == "MATCHES" else title
            sections.add(section)
        elif line == ".RS":
            parent = key
        elif line == ".RE":
            parent = None
        elif line == ".TP" and section is not None:
            # .TP, then "KEY (OPTION)" or a bare "KEY", then its description.
            key, option = re.fullmatch(r"(\S+)(?: \((--\S+)\))?", unroff(lines[i + 1])).groups()
            if option:
                options.add((section, option))
                key_options.setdefault((section, parent or key), set()).add(option)
            if f"Negatable: \\fB!{key}\\fR" in lines[i + 2]:
                negatable.add((section, key))
    return sections, options, {k: key_options.get(k, set()) for k in negatable}


def comparable(save_text):
    """iptables-save text without comment lines, its tables in TABLE_ORDER."""
    tables, table = {}, None
    for line in save_text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("*"):
            table = line[1:]
        tables.setdefault(table, []).append(line)
    order = sorted(tables, key=lambda t: TABLE_ORDER.index(t) if t in TABLE_ORDER else -1)
    return [line for t in order for line in tables[t]]


@contextlib.contextmanager
def fresh_namespace():
    ns = Namespace("vd-import-" + secrets.token_hex(3))
    run(["ip", "netns", "add", ns.name])
    try:
        yield ns
    finally:
        run(["ip", "netns", "del", ns.name], check=False)


def kernel_restore(ns, path):
    """Restores `path` in `ns` (its ipsets first, from PATH.ipset if there
    is one); the CompletedProcess of iptables-legacy-restore."""
    sets = path + ".ipset"
    if os.path.exists(sets):
        with open(sets) as f:
            ns.run(["ipset", "restore"], input=f.read())
    program = "ip6tables" if is_ipv6(path) else "iptables"
    with open(path) as f:
        return ns.run([f"{program}-legacy-restore"], input=f.read(), check=False)


def kernel_save(path):
    """What iptables-legacy-save prints once `path` is restored."""
    with fresh_namespace() as ns:
        restored = kernel_restore(ns, path)
        if restored.returncode != 0:
            raise AssertionError(f"the kernel refuses {path}: {restored.stderr}")
        program = "ip6tables" if is_ipv6(path) else "iptables"
        return ns.run([f"{program}-legacy-save"]).stdout


class CorpusTest(unittest.TestCase):
    """The corpus itself: big enough, and naming everything verdictd takes."""

    @classmethod
    def setUpClass(cls):
        cls.uses = corpus_uses()
        cls.sections, cls.options, cls.negatable = reference()

    def test_corpus_has_300_rules(self):
        count = sum(1 for path in corpus_files() for _ in rule_lines(path))
        self.assertGreaterEqual(count, 300)

    def test_every_match_and_target_is_used(self):
        used = {section for section, _, _ in self.uses}
        self.assertEqual(sorted(self.sections - used), [])

    def test_every_option_is_used(self):
        used = {(section, option) for section, option, _ in self.uses}
        self.assertEqual(sorted(self.options - used), [])

    def test_every_negatable_option_is_negated(self):
        negated = {(section, option) for section, option, n in self.uses if n}
        missing = [f"{section or 'rule'} !{key}"
                   for (section, key), options in self.negatable.items()
                   if not any((section, option) in negated for option in options)]
        self.assertEqual(sorted(missing), [])

    def test_a_rule_loads_each_module_once(self):
        # verdictd's JSON holds one instance of a module per rule.
        for path in corpus_files():
            for number, tokens in rule_lines(path):
                modules = rule_uses(tokens)[1]
                with self.subTest(rule=f"{os.path.basename(path)}:{number}"):
                    self.assertEqual(len(modules), len(set(modules)), modules)


class RoundTripTest(unittest.TestCase):

    def verdictd_save(self, path):
        """`verdictctl export` of what `verdictctl import` makes of `path`,
        once `verdictctl check` has passed it."""
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        ruleset = os.path.join(directory.name, os.path.basename(path) + ".json")
        # The sets the rules name are declared from the same ipset dump the
        # kernel run restores.
        sets = ["--ipset", path + ".ipset"] if os.path.exists(path + ".ipset") else []
        imported = run([verdictctl_binary(), "import", *sets,
                        *(["-6"] if is_ipv6(path) else []), path], check=False)
        self.assertEqual(imported.returncode, 0, imported.stderr)
        with open(ruleset, "w") as f:
            f.write(imported.stdout)
        checked = run([verdictctl_binary(), "check", ruleset], check=False)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        exported = run([verdictctl_binary(), "export", "-6" if is_ipv6(path) else "-4", ruleset],
                       check=False)
        self.assertEqual(exported.returncode, 0, exported.stderr)
        return exported.stdout

    def test_export_of_import_prints_what_the_kernel_saves(self):
        files = corpus_files()
        self.assertGreater(len(files), 0)
        for path in files:
            with self.subTest(file=os.path.basename(path)):
                expected = comparable(kernel_save(path))
                got = comparable(self.verdictd_save(path))
                diff = difflib.unified_diff(expected, got, f"iptables-legacy-save {path}",
                                            "verdictctl import, export", lineterm="")
                if expected != got:
                    self.fail("\n".join(diff))


class BadFileTest(unittest.TestCase):

    def test_the_bad_files_are_the_listed_ones(self):
        self.assertEqual(sorted(BAD_FILES), sorted(os.listdir(BAD)))

    def test_import_refuses_naming_the_line(self):
        for name, line in BAD_FILES.items():
            with self.subTest(file=name):
                path = os.path.join(BAD, name)
                result = run([verdictctl_binary(), "import", path], check=False)
                self.assertNotEqual(result.returncode, 0)
                self.assertEqual(result.stdout, "")
                self.assertRegex(result.stderr, rf"\A{re.escape(path)}:{line}:\d+: ")

    def test_the_kernel_refuses_them_too(self):
        # So each bad file is bad for iptables as well, not only for verdictd.
        for name in sorted(set(BAD_FILES) - KERNEL_TAKES):
            with self.subTest(file=name), fresh_namespace() as ns:
                self.assertNotEqual(kernel_restore(ns, os.path.join(BAD, name)).returncode, 0)


if __name__ == "__main__":
    unittest.main()
