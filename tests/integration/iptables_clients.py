"""Programs that drive iptables themselves (ufw, fail2ban, netfilter-persistent)
run in the lab's router, once on the kernel's iptables-legacy and once on
verdictd's iptables-compatible commands, without changing anything of the
machine's.

A ClientHost is a process holding a mount namespace of its own in the
router's network namespace (`ip netns exec`, then `unshare -m --propagation
private`); the client's commands run in it with `nsenter -m -n`. There:

  /etc/alternatives  a copy of the machine's, except that iptables,
                     iptables-save, iptables-restore and their ip6tables
                     twins point to recording wrappers, which run the
                     -legacy commands (mode "kernel") or verdictd's
                     (mode "verdictd"). Every client reaches iptables
                     through these entries: ufw runs /usr/sbin/iptables,
                     /usr/sbin/ip6tables and their -restore by absolute path
                     (ufw.common.iptables_dir), its ufw-init and fail2ban's
                     iptables actions (`iptables -w ...`) find `iptables` on
                     PATH, netfilter-persistent's plugins set PATH to
                     /usr/local/sbin:...:/usr/sbin and run iptables-save and
                     iptables-restore; /usr/sbin/iptables* and /sbin (a link
                     to usr/sbin) are links to /etc/alternatives.
  /run               a fresh tmpfs: ufw's lock, the xtables lock, and
                     /run/verdictd/control.sock, a link to the lab daemon's
                     control socket, where verdictd's commands look when no
                     VERDICTD_SOCKET is set (as for a client started by
                     systemd, which sets none).
  binds              temporary copies of the directories a client writes
                     (/etc/ufw, /etc/default, /etc/iptables), bound over them.
  layers             read-only overlays that add files the machine lacks
                     (netfilter-persistent, unpacked in .cache, is not
                     installed): the layer's files over the directory's.

verdictd itself never runs in that mount namespace: its steering runs the
machine's iptables-restore, which must not be the wrappers.
"""

import ast
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

from lab import ROUTER, run, verdictctl_binary
from oracle import LabTestCase, queue_packets

COMMANDS = ("iptables", "iptables-save", "iptables-restore",
            "ip6tables", "ip6tables-save", "ip6tables-restore")
MODES = ("kernel", "verdictd")
ALTERNATIVES = "/etc/alternatives"
# What verdictd enforces before a client changes it: every packet passes.
ACCEPT_ALL = {"tables": {"filter": {chain: {"policy": "ACCEPT"}
                                    for chain in ("INPUT", "FORWARD", "OUTPUT")}}}
DAEMON_SOCKET = "/run/verdictd/control.sock"


def verdictd_commands_dir():
    """Where verdictd's iptables commands are: VERDICTD_IPTABLES_DIR, else
    beside verdictctl."""
    return os.environ.get("VERDICTD_IPTABLES_DIR") or os.path.dirname(verdictctl_binary())


def real_command(mode, name):
    """The program an alternatives entry stands for in a mode: iptables-save
    is iptables-legacy-save or iptables-verdictd-save."""
    if mode == "kernel":
        return os.path.join("/usr/sbin", name.replace("tables", "tables-legacy", 1))
    path = os.path.join(verdictd_commands_dir(), name.replace("tables", "tables-verdictd", 1))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"verdictd's iptables commands are not built: no {path} "
                           "(issue 13: iptables-verdictd and its links, in <build>/daemon/ctl)")
    return path


# An alternatives entry's target: runs the real command with the client's
# arguments, hands its output and exit status back, and appends the call
# (arguments, what a restore read, exit status, output) to the log as one
# line, a Python literal. A -restore reads stdin unless given a file. It
# imports nothing beyond os and sys, as ufw runs a few hundred commands per
# change: its own startup is most of a call's time.
RECORDER = """#!/usr/bin/python3 -IS
import os, sys
args = sys.argv[1:]
scratch = os.path.join({scratch!r}, str(os.getpid()))
stdin = None
if {restore} and all(a.startswith("-") for a in args):
    stdin = sys.stdin.buffer.read()
    with open(scratch + ".in", "wb") as f:
        f.write(stdin)
pid = os.fork()
if pid == 0:
    if stdin is not None:
        os.dup2(os.open(scratch + ".in", os.O_RDONLY), 0)
    os.dup2(os.open(scratch + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
    os.dup2(os.open(scratch + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    os.execv({real!r}, [{real!r}, *args])
rc = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
output = {{}}
for stream in ("out", "err"):
    with open(f"{{scratch}}.{{stream}}", "rb") as f:
        output[stream] = f.read()
    os.remove(f"{{scratch}}.{{stream}}")
if stdin is not None:
    os.remove(scratch + ".in")
text = lambda b: None if b is None else b.decode(errors="replace")
call = {{"argv": [{name!r}, *args], "stdin": text(stdin), "rc": rc,
        "stdout": text(output["out"]), "stderr": text(output["err"])}}
log = os.open({log!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(log, (repr(call) + "\\n").encode())
sys.stdout.buffer.write(output["out"])
sys.stderr.buffer.write(output["err"])
sys.exit(rc)
"""


class ClientHost:
    """The router as a client of iptables sees it; see the module text.
    `directory` (new) holds the alternatives, the wrappers and their log;
    `binds` {target: source directory}, `layers` {target: directory whose
    files are added to target's}."""

    def __init__(self, lab, mode, directory, binds=None, layers=None):
        os.mkdir(directory)
        self.log_path = os.path.join(directory, "calls.log")
        wrappers = os.path.join(directory, "bin")
        os.mkdir(wrappers)
        scratch = os.path.join(directory, "scratch")
        os.mkdir(scratch)
        alternatives = os.path.join(directory, "alternatives")
        shutil.copytree(ALTERNATIVES, alternatives, symlinks=True)
        for name in COMMANDS:
            wrapper = os.path.join(wrappers, name)
            with open(wrapper, "w") as f:
                f.write(RECORDER.format(name=name, real=real_command(mode, name), log=self.log_path,
                                        scratch=scratch, restore=name.endswith("-restore")))
            os.chmod(wrapper, 0o755)
            os.remove(os.path.join(alternatives, name))
            os.symlink(wrapper, os.path.join(alternatives, name))
        q = shlex.quote
        script = ["set -e"]
        for target, layer in (layers or {}).items():
            # Two lower layers and no upper one: read-only, nothing written.
            script.append(f"mount -t overlay overlay -o lowerdir={q(layer)}:{q(target)} "
                          + q(target))
        for target, source in (binds or {}).items():
            script.append(f"mount --bind {q(source)} {q(target)}")
        script += [f"mount --bind {q(alternatives)} {ALTERNATIVES}",
                   "mount -t tmpfs -o mode=0755 tmpfs /run",
                   f"mkdir {os.path.dirname(DAEMON_SOCKET)}",
                   "echo ready",
                   "exec sleep infinity"]
        self.proc = subprocess.Popen(
            lab.ns[ROUTER].exec_args(["unshare", "-m", "--propagation", "private",
                                      "sh", "-c", "\n".join(script)]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lab.processes.append(self.proc)
        if self.proc.stdout.readline() != "ready\n":
            self.proc.wait(timeout=10)
            raise RuntimeError(f"the client's mount namespace: {self.proc.stderr.read()}")

    def args(self, args):
        """A command line that runs `args` here, as a client started by
        systemd would: without VERDICTD_SOCKET."""
        return ["nsenter", "-t", str(self.proc.pid), "-m", "-n", "--",
                "env", "-u", "VERDICTD_SOCKET", *args]

    def run(self, args, check=True, input=None, timeout=60):
        return run(self.args(args), check=check, input=input, timeout=timeout)

    def use_daemon(self, daemon):
        """Points /run/verdictd/control.sock at this daemon's socket."""
        self.run(["ln", "-sfn", daemon.control_socket, DAEMON_SOCKET])

    def calls(self):
        """The iptables commands the client ran so far, in order: dicts with
        argv (argv[0] the name the client used), stdin (what a restore
        read, or None), rc, stdout, stderr."""
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [ast.literal_eval(line) for line in f]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


# ufw names its capability-test chains with a random suffix.
_RANDOM_NAMES = re.compile(r"(ufw6?-caps-test)\w+")


def _call_line(call):
    args = [_RANDOM_NAMES.sub(r"\1*", a) for a in call["argv"]]
    return shlex.join(args) + f"  => exit {call['rc']}"


def call_differences(kernel_calls, verdictd_calls):
    """"" when verdictd's commands answered every call the client made as
    iptables-legacy did (the same calls, in the same order, with the same
    exit status; a restore's input aside); else a diff of the two call
    lists, each differing call followed by what both answered on stderr."""
    kernel = [_call_line(c) for c in kernel_calls]
    verdictd = [_call_line(c) for c in verdictd_calls]
    if kernel == verdictd:
        return ""
    answers = {}
    for side, calls in (("iptables-legacy", kernel_calls), ("verdictd", verdictd_calls)):
        for call in calls:
            if call["stderr"].strip():
                answers.setdefault(_call_line(call), []).append(
                    f"      {side}: {call['stderr'].strip()}")
    out = []
    for line in difflib.unified_diff(kernel, verdictd, "iptables-legacy", "verdictd",
                                     lineterm="", n=2):
        out.append(line)
        if line[:1] in "+-" and not line.startswith(("+++", "---")):
            out += answers.get(line[1:], [])
    return "\n".join(out)


def command_lines(calls):
    """The distinct command lines of a call list, in order of first use (the
    random parts of names starred; a restore's input counted in lines)."""
    lines = []
    for call in calls:
        line = shlex.join(_RANDOM_NAMES.sub(r"\1*", a) for a in call["argv"])
        if call["stdin"] is not None:
            line += f"  < {len(call['stdin'].splitlines())} lines"
        if line not in lines:
            lines.append(line)
    return lines


class ClientSide:
    """One run of a client: mode "kernel" (the router's own tables, empty at
    first) or "verdictd" (a verdictd in the router enforcing ACCEPT_ALL,
    which the client's commands change)."""

    def __init__(self, test, mode):
        self.test, self.mode, self.lab = test, mode, test.lab
        self.hosts = []
        self.daemon = None
        if mode == "verdictd":
            self.daemon = test.start_verdictd(test.accept_all)

    def host(self, binds=None, layers=None):
        """A ClientHost of this run, in a new directory under the lab's."""
        directory = os.path.join(self.lab.tmp, f"{self.mode}-host{len(self.hosts) + 1}")
        host = ClientHost(self.lab, self.mode, directory, binds, layers)
        self.hosts.append(host)
        if self.daemon:
            host.use_daemon(self.daemon)
        return host

    def restart(self):
        """What a reboot does to the rules: verdictd is stopped and started
        again (with ACCEPT_ALL), the kernel's tables are emptied."""
        if self.daemon is None:
            self.lab.kernel_reset()
            return
        self.test.daemons.remove(self.daemon)
        status = self.daemon.stop()
        self.test.assertEqual(status, 0, f"verdictd exited {status}:\n{self.daemon.read_log()}")
        self.daemon = self.test.start_verdictd(self.test.accept_all)
        for host in self.hosts:
            host.use_daemon(self.daemon)

    def calls(self):
        return [call for host in self.hosts for call in host.calls()]

    def close(self):
        for host in self.hosts:
            host.stop()


class ClientTestCase(LabTestCase):
    """The oracle loop for clients: the same client, the same commands and the
    same traffic, under the kernel, then under verdictd."""

    def setUp(self):
        super().setUp()
        # REJECT answers every probe, however close together (ufw's limit
        # rejects connection after connection): no rate limit on the
        # kernel's ICMP errors.
        self.lab.ns[ROUTER].sysctl({"net.ipv4.icmp_ratelimit": 0, "net.ipv6.icmp.ratelimit": 0})
        self.accept_all = os.path.join(self.lab.tmp, "accept-all.json")
        with open(self.accept_all, "w") as f:
            json.dump(ACCEPT_ALL, f)

    def against_the_kernel(self, name, body, check_kernel):
        """body(side) once per mode, each from empty tables and an empty
        conntrack table; it returns {what: result} (outcomes of a phase of
        probes, a client's output, a file it wrote). check_kernel(result)
        asserts what the kernel's run must give. verdictd's must equal the
        kernel's, its commands must answer each iptables call the client made
        as iptables-legacy did, it must have queued packets and its tracker
        must agree with the kernel's conntrack."""
        results, calls = [], []
        for mode in MODES:
            self.lab.kernel_reset()
            self.lab.flush_conntrack()
            side = ClientSide(self, mode)
            try:
                results.append(body(side))
                calls.append(side.calls())
                if side.daemon:
                    queued = side.daemon.ctl("status").stdout
                    divergences = self.lasting_divergences(side.daemon)
                    log = side.daemon.read_log()
            finally:
                side.close()
            if mode == "kernel":
                check_kernel(results[0])
                print(f"{name}: the iptables commands it ran:\n  "
                      + "\n  ".join(command_lines(calls[0])), file=sys.stderr)
        kernel, verdictd = results
        differences = [f"  {what}:\n    kernel:   {kernel[what]!r}\n"
                       f"    verdictd: {verdictd.get(what)!r}"
                       for what in kernel if verdictd.get(what) != kernel[what]]
        answered = call_differences(*calls)
        if differences or answered:
            self.fail(f"{name}: verdictd differs from the kernel:\n" + "\n".join(differences)
                      + (f"\niptables calls (kernel -> verdictd):\n{answered}" if answered else "")
                      + f"\nverdictd log:\n{log[-3000:]}")
        self.assertTrue(any(packets for _, packets in queue_packets(queued).values()),
                        f"no packet reached verdictd:\n{queued}")
        self.assertEqual(divergences, "")
        print(f"{name}: {len(calls[0])} iptables calls, kernel == verdictd", file=sys.stderr)
