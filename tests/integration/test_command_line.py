"""What a new user meets first: --version, the words of a mistyped command
line, `verdictctl check` of a file that is not there, and an install that
leaves a ruleset verdictd can start with (and keeps the host's own)."""

import filecmp
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from lab import TOP, run, verdictctl_binary, verdictd_binary

USAGE_ERROR = 2


def project_version():
    with open(os.path.join(TOP, "CMakeLists.txt"), encoding="utf-8") as f:
        return re.search(r"project\(verdictd VERSION (\S+)", f.read()).group(1)


def build_directory():
    # The build directory holds the binary at daemon/ctl/verdictctl.
    return os.path.dirname(os.path.dirname(os.path.dirname(verdictctl_binary())))


class VersionTest(unittest.TestCase):
    def test_verdictctl_prints_the_project_version(self):
        result = run([verdictctl_binary(), "--version"])
        self.assertEqual(result.stdout.strip(), f"verdictctl {project_version()}")

    def test_verdictd_prints_the_project_version(self):
        # In a network namespace of its own, as every verdictd under test.
        result = run(["unshare", "--net", verdictd_binary(), "--version"])
        self.assertEqual(result.stdout.strip(), f"verdictd {project_version()}")


class CommandLineErrorTest(unittest.TestCase):
    def refused(self, *args):
        result = run([verdictctl_binary(), *args], check=False)
        self.assertEqual(result.returncode, USAGE_ERROR, result.stderr)
        return result.stderr.strip()

    def test_an_unknown_subcommand_is_named(self):
        self.assertEqual(self.refused("foo"),
                         "verdictctl: unknown subcommand 'foo'; see verdictctl --help")

    def test_an_unknown_subcommand_after_an_option_is_named(self):
        self.assertEqual(self.refused("--socket", "/nonexistent", "stats"),
                         "verdictctl: unknown subcommand 'stats'; see verdictctl --help")

    def test_no_subcommand_asks_for_one(self):
        self.assertEqual(self.refused(),
                         "verdictctl: a subcommand is required; see verdictctl --help")

    def test_a_word_a_subcommand_does_not_take_is_named(self):
        self.assertEqual(self.refused("status", "now"),
                         "verdictctl: unexpected argument 'now'; see verdictctl --help")

    def test_check_of_a_missing_file_has_no_position(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "missing.json")
            result = run([verdictctl_binary(), "check", path], check=False)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr, f"{path}: cannot open: No such file or directory\n")


class InstallTest(unittest.TestCase):
    def install(self, destination):
        subprocess.run(["cmake", "--install", build_directory(), "--prefix", "/usr"],
                       env=dict(os.environ, DESTDIR=destination), check=True,
                       capture_output=True, timeout=120)

    def test_install_creates_an_accept_all_ruleset_and_keeps_an_existing_one(self):
        destination = tempfile.mkdtemp(prefix="verdictd-install-")
        self.addCleanup(shutil.rmtree, destination)
        ruleset = os.path.join(destination, "etc", "verdictd", "ruleset.json")

        self.install(destination)
        self.assertTrue(filecmp.cmp(ruleset, os.path.join(TOP, "rules", "default.json"),
                                    shallow=False))
        # The README's next step works on it as installed.
        run([os.path.join(destination, "usr", "bin", "verdictctl"), "check", ruleset])

        own = '{"tables": {"filter": {"INPUT": {"policy": "DROP", "rules": []}}}}\n'
        with open(ruleset, "w", encoding="utf-8") as f:
            f.write(own)
        self.install(destination)
        with open(ruleset, encoding="utf-8") as f:
            self.assertEqual(f.read(), own)


if __name__ == "__main__":
    unittest.main()
