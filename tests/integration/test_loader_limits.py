"""Hostile ruleset files: `verdictctl check` refuses nesting 100,000 levels
deep and files past the size limit with their location, and never crashes; a
running verdictd refuses such a file at a reload, stays up and keeps its
ruleset in force; the size limit is the ruleset_max_bytes setting or flag."""

import json
import os
import shutil
import tempfile
import unittest

from lab import CLIENT, SERVER, Verdictd, run, verdictctl_binary
from oracle import LabTestCase, ruleset_path
from probes import Tcp

C, S = CLIENT, SERVER

DEEP = 100_000  # about 200 KB of brackets, far more levels than a stack has room to recurse
TOO_DEEP = "expected at most 256 levels of nested arrays and objects"
RAISE = 'raise it with "ruleset_max_bytes" in verdictd.json or --ruleset-max-bytes'

# Text, and where it goes too deep.
HOSTILE = {
    "arrays": ("[" * DEEP + "]" * DEEP, "1:257"),
    # Six levels are open where the comment starts: its 251st array is the 257th.
    "comment": ('{"tables": {"filter": {"INPUT": {"rules": [\n{"comment": '
                + "[" * DEEP + "]" * DEEP + "}]}}}}\n", "2:263"),
}


class CheckTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vd-loader-limits-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_deep_nesting_is_refused_with_its_location(self):
        for name, (text, where) in HOSTILE.items():
            with self.subTest(nesting=name):
                path = self.write(f"{name}.json", text)
                result = run([verdictctl_binary(), "check", path], check=False)
                self.assertEqual(result.returncode, 1, result.stderr[:200])  # -11 was SIGSEGV
                self.assertEqual(result.stderr, f"{path}:{where}: {TOO_DEEP}\n")

    def test_size_limit_is_named_and_settable(self):
        path = self.write("padded.json", '{"tables": {}}' + " " * 100)  # 114 bytes
        result = run([verdictctl_binary(), "check", "--ruleset-max-bytes", "113", path],
                     check=False)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr,
                         f"{path}: the file is 114 bytes, more than the limit of 113 bytes; "
                         f"{RAISE}\n")
        result = run([verdictctl_binary(), "check", "--ruleset-max-bytes", "114", path])
        self.assertEqual(result.stdout, f"{path}: ok (0 rules)\n")


class ReloadTest(LabTestCase):

    def assert_first_ruleset_in_force(self, context):
        expected = [(Tcp(C, S, 80, 4), "open"), (Tcp(C, S, 22, 4), "timeout")]
        self.assert_outcomes(expected, self.probe([p for p, _ in expected]), context)

    def test_hostile_reload_is_refused_and_the_daemon_stays(self):
        self.serve(tcp={S: [80, 22]})
        path = os.path.join(self.lab.tmp, "ruleset.json")
        shutil.copy(ruleset_path("forward_filter"), path)
        daemon = self.start_verdictd(path)
        self.assert_first_ruleset_in_force("first ruleset")
        for name, (text, where) in HOSTILE.items():
            with open(path, "w") as f:
                f.write(text)
            error = f"{path}:{where}: {TOO_DEEP}"
            result = daemon.ctl("reload", check=False)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(error, result.stderr)
            daemon.reload_by_signal()
            self.assertIn(f"reload failed: {error}; previous ruleset still in force",
                          daemon.statuses()[-1])
            self.assertIsNone(daemon.proc.poll(), daemon.read_log())
        self.assert_first_ruleset_in_force("after the refused reloads")

    def test_ruleset_max_bytes_setting_and_flag(self):
        self.serve(tcp={S: [80, 22]})
        path = os.path.join(self.lab.tmp, "ruleset.json")
        shutil.copy(ruleset_path("forward_filter"), path)
        size = os.path.getsize(path)
        config = os.path.join(self.lab.tmp, "verdictd.json")
        with open(config, "w") as f:
            json.dump({"ruleset": path, "ruleset_max_bytes": size}, f)
        daemon = self.start_verdictd(config=config)
        self.assert_first_ruleset_in_force("a ruleset of exactly the limit")

        with open(path, "a") as f:
            f.write(" ")
        result = daemon.ctl("reload", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{path}: the file is {size + 1} bytes, more than the limit of "
                      f"{size} bytes; {RAISE}", result.stderr)
        self.assert_first_ruleset_in_force("after the refused reload")

        # The flag overrides the setting; at start a file past the limit is refused.
        refused = Verdictd(self.lab, None, ["--ruleset-max-bytes", str(size)], config)
        refused.proc.wait(timeout=10)
        self.assertEqual(refused.stop(), 1)
        self.assertIn(f"the file is {size + 1} bytes, more than the limit of {size} bytes",
                      refused.read_log())


if __name__ == "__main__":
    unittest.main()
