"""The namespace lab: client -- router -- server, joined by veth pairs.

    client (eth0) 10.1.0.2/24 fd01::2/64
       |
    router (lan0) 10.1.0.1/24 fd01::1/64      forwarding on, v4 and v6
    router (wan0) 10.2.0.1/24 fd02::1/64
       |
    server (eth0) 10.2.0.2/24 fd02::2/64

Every name carries a random id, so several labs (and other people's
namespaces) live side by side. Nothing here touches the machine's own network
namespace: firewall rules and verdictd only ever run inside the router
namespace. Neighbour entries are permanent, so filtering ICMPv6 on INPUT or
OUTPUT cannot starve neighbour discovery and make IPv6 outcomes depend on
timing.

Sockets are opened directly inside a namespace (setns on the calling thread,
then back), so one test process drives traffic in all three namespaces
without starting a program per probe.

The shell scripts (scripts/demo.sh, bench/run.sh) use the same lab from the
command line: `lab.py up` builds one that outlives the command and prints it
as shell variables, `lab.py down ID` removes the lab of that id.
"""

import atexit
import contextlib
import ctypes
import fcntl
import json
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

CLONE_NEWNET = 0x40000000
SIOCETHTOOL = 0x8946
# The legacy ethtool commands that switch TCP segmentation, generic
# segmentation and generic receive offload (ETHTOOL_STSO, _SGSO, _SGRO).
_OFFLOAD_OFF_COMMANDS = (0x1F, 0x24, 0x2C)
_libc = ctypes.CDLL(None, use_errno=True)
_setns_lock = threading.Lock()

CLIENT, ROUTER, SERVER = "client", "router", "server"

# Addresses by (namespace, side). The router has one per side.
ADDR = {
    (CLIENT, 4): "10.1.0.2", (CLIENT, 6): "fd01::2",
    (ROUTER, 4): "10.1.0.1", (ROUTER, 6): "fd01::1",            # lan0, the client side
    ("router-wan", 4): "10.2.0.1", ("router-wan", 6): "fd02::1",  # wan0, the server side
    ("router-lo", 4): "127.0.0.1", ("router-lo", 6): "::1",       # lo: the router to itself
    (SERVER, 4): "10.2.0.2", (SERVER, 6): "fd02::2",
}
# More client addresses, for iprange matches and for spreading flows over a
# queue range (the kernel balances by address, not by port).
EXTRA_CLIENT_V4 = [f"10.1.0.{i}" for i in range(10, 26)]
EXTRA_CLIENT_V6 = [f"fd01::{i:x}" for i in range(0x10, 0x20)]

_MAC = {
    "client-eth0": "02:76:64:01:00:02", "router-lan0": "02:76:64:01:00:01",
    "router-wan0": "02:76:64:02:00:01", "server-eth0": "02:76:64:02:00:02",
}

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULESETS = os.path.join(TOP, "tests", "rulesets")


def _binary(env_name, build_relative):
    path = os.environ.get(env_name)
    if path:
        return path
    build = os.environ.get("VERDICTD_BUILD_DIR", os.path.join(TOP, "build"))
    return os.path.join(build, build_relative)


def verdictd_binary():
    return _binary("VERDICTD", "daemon/service/verdictd")


def verdictctl_binary():
    return _binary("VERDICTCTL", "daemon/ctl/verdictctl")


def run(args, check=True, input=None, timeout=30):
    """Runs a command, returns CompletedProcess with text stdout/stderr."""
    result = subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {result.returncode}: "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result


class Namespace:
    """A network namespace this process created, by name."""

    def __init__(self, name):
        self.name = name

    def exec_args(self, args):
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, args, check=True, input=None, timeout=30):
        return run(self.exec_args(args), check=check, input=input, timeout=timeout)

    def ip_batch(self, commands):
        run(["ip", "-n", self.name, "-batch", "-"], input="\n".join(commands) + "\n")

    @contextlib.contextmanager
    def entered(self):
        """Runs the body with this thread inside the namespace."""
        with _setns_lock:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                if _libc.setns(target, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {self.name}")
                try:
                    yield
                finally:
                    if _libc.setns(own, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns back")
            finally:
                os.close(target)
                os.close(own)

    def socket(self, family, kind, proto=0):
        """A socket that lives in this namespace for its whole life."""
        with self.entered():
            return socket.socket(family, kind, proto)

    def offloads_off(self, link):
        """Switches off TSO, GSO and GRO on one of this namespace's links
        (what `ethtool -K LINK tso off gso off gro off` does), so every TCP
        segment crosses netfilter as a packet of its own."""
        with self.entered():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for command in _OFFLOAD_OFF_COMMANDS:
                value = ctypes.create_string_buffer(struct.pack("II", command, 0), 8)
                request = struct.pack("16sP", link.encode(), ctypes.addressof(value))
                fcntl.ioctl(s.fileno(), SIOCETHTOOL, request.ljust(40, b"\0"))  # struct ifreq
        finally:
            s.close()

    def sysctl(self, settings):
        with self.entered():
            for key, value in settings.items():
                with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                    f.write(str(value))


_live_labs = set()


@atexit.register
def _destroy_leftover_labs():
    for lab in list(_live_labs):
        lab.destroy()


_ID = re.compile(r"vd-[0-9a-f]{6}")


def _namespace_name(lab_id, role):
    return f"{lab_id}-{role[0]}"


def _tmp_path(lab_id):
    return os.path.join(tempfile.gettempdir(), lab_id)


class Lab:
    """The three namespaces and their links; see the module text."""

    def __init__(self):
        self.id = "vd-" + secrets.token_hex(3)
        self.ns = {role: Namespace(_namespace_name(self.id, role))
                   for role in (CLIENT, ROUTER, SERVER)}
        self.tmp = _tmp_path(self.id)
        os.mkdir(self.tmp, 0o700)  # fails if it exists: the id is this lab's alone
        self.processes = []  # Popen of what this lab started, killed by pid on destroy
        self.router_lan = "lan0"  # follows renames
        _live_labs.add(self)
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise

    def _build(self):
        for ns in self.ns.values():
            run(["ip", "netns", "add", ns.name])
            ns.sysctl({"net.ipv6.conf.default.accept_dad": 0,
                       "net.ipv6.conf.default.router_solicitations": 0,
                       "net.ipv6.conf.all.accept_ra": 0,
                       "net.ipv6.conf.default.accept_ra": 0})
        c, r, s = (self.ns[x].name for x in (CLIENT, ROUTER, SERVER))
        run(["ip", "link", "add", "eth0", "netns", c, "address", _MAC["client-eth0"], "type", "veth",
             "peer", "name", "lan0", "netns", r, "address", _MAC["router-lan0"]])
        run(["ip", "link", "add", "eth0", "netns", s, "address", _MAC["server-eth0"], "type", "veth",
             "peer", "name", "wan0", "netns", r, "address", _MAC["router-wan0"]])
        self.ns[ROUTER].sysctl({"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1})
        client = ["link set lo up", "link set eth0 up",
                  "addr add 10.1.0.2/24 dev eth0", "addr add fd01::2/64 dev eth0 nodad",
                  "route add default via 10.1.0.1", "route add default via fd01::1",
                  "neigh replace 10.1.0.1 lladdr %s dev eth0 nud permanent" % _MAC["router-lan0"],
                  "neigh replace fd01::1 lladdr %s dev eth0 nud permanent" % _MAC["router-lan0"]]
        client += [f"addr add {a}/24 dev eth0" for a in EXTRA_CLIENT_V4]
        # Deprecated: never picked as a source address unless a socket binds it.
        client += [f"addr add {a}/64 dev eth0 nodad preferred_lft 0" for a in EXTRA_CLIENT_V6]
        self.ns[CLIENT].ip_batch(client)
        server = ["link set lo up", "link set eth0 up",
                  "addr add 10.2.0.2/24 dev eth0", "addr add fd02::2/64 dev eth0 nodad",
                  "route add default via 10.2.0.1", "route add default via fd02::1",
                  "neigh replace 10.2.0.1 lladdr %s dev eth0 nud permanent" % _MAC["router-wan0"],
                  "neigh replace fd02::1 lladdr %s dev eth0 nud permanent" % _MAC["router-wan0"]]
        self.ns[SERVER].ip_batch(server)
        self.ns[ROUTER].ip_batch(["link set lo up"] + self._router_link_commands("lan0", "wan0"))

    def _router_link_commands(self, lan, wan):
        cmds = [f"link set {lan} up", f"link set {wan} up",
                f"addr replace 10.1.0.1/24 dev {lan}", f"addr replace fd01::1/64 dev {lan} nodad",
                f"addr replace 10.2.0.1/24 dev {wan}", f"addr replace fd02::1/64 dev {wan} nodad",
                f"neigh replace 10.2.0.2 lladdr {_MAC['server-eth0']} dev {wan} nud permanent",
                f"neigh replace fd02::2 lladdr {_MAC['server-eth0']} dev {wan} nud permanent"]
        for a in [ADDR[(CLIENT, 4)], ADDR[(CLIENT, 6)]] + EXTRA_CLIENT_V4 + EXTRA_CLIENT_V6:
            cmds.append(f"neigh replace {a} lladdr {_MAC['client-eth0']} dev {lan} nud permanent")
        return cmds

    def offloads_off(self):
        """Every link of the lab, loopbacks included, without segmentation
        offloads: packet counts then follow the data, not the batching."""
        for role, links in ((CLIENT, ["lo", "eth0"]), (ROUTER, ["lo", self.router_lan, "wan0"]),
                            (SERVER, ["lo", "eth0"])):
            for link in links:
                self.ns[role].offloads_off(link)

    def rename_router_lan(self, new_name):
        """Renames the router's client-side interface (it must be down for
        that, which drops its IPv6 addresses: they are put back)."""
        old = self.router_lan
        self.ns[ROUTER].ip_batch([f"link set {old} down", f"link set {old} name {new_name}"]
                                 + self._router_link_commands(new_name, "wan0"))
        self.router_lan = new_name

    def destroy(self):
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        self.processes.clear()
        remove(self.id)
        _live_labs.discard(self)

    def keep(self):
        """Leaves the lab in place when this process exits (`lab.py up`)."""
        _live_labs.discard(self)

    # ---- the kernel's iptables in the router (the oracle) ----

    def kernel_load(self, ruleset_path):
        """Loads a verdictd ruleset into the router's kernel via verdictctl
        export and iptables-legacy-restore."""
        for family, restore in ((4, "iptables-legacy-restore"), (6, "ip6tables-legacy-restore")):
            text = self.ctl("export", f"-{family}", ruleset_path).stdout
            self.ns[ROUTER].run([restore], input=text)

    def kernel_counters(self, family, table, chain):
        """Rule counters of one kernel chain, [(packets, bytes)] by rule number."""
        tool = "iptables-legacy" if family == 4 else "ip6tables-legacy"
        out = self.ns[ROUTER].run([tool, "-t", table, "-L", chain, "-v", "-n", "-x"]).stdout
        rows = []
        for line in out.splitlines()[2:]:
            fields = line.split()
            if fields:
                rows.append((int(fields[0]), int(fields[1])))
        return rows

    def kernel_reset(self):
        """Empties every table the router has, both families, both iptables
        backends (built-in chains back to ACCEPT, user chains gone): the
        state before a ruleset or a verdictd ran. Never used while a verdictd
        holds queued packets."""
        r = self.ns[ROUTER]
        for tool in ("iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft"):
            text = ""
            for line in r.run([tool + "-save"]).stdout.splitlines():
                if line.startswith("*") or line == "COMMIT":
                    text += line + "\n"
                elif line.startswith(":") and not line.split()[1] == "-":
                    text += f"{line.split()[0]} ACCEPT [0:0]\n"
            if text:
                r.run([tool + "-restore"], input=text)

    def flush_conntrack(self):
        """Empties the router's conntrack table, both families."""
        for family in ("ipv4", "ipv6"):
            self.ns[ROUTER].run(["conntrack", "-F", "-f", family], check=False)

    # ---- verdictd in the router ----

    def start_verdictd(self, ruleset=None, args=(), config=None):
        """verdictd in the router, once it has said READY=1."""
        daemon = Verdictd(self, ruleset, args, config)
        daemon.wait_ready()
        return daemon

    def ctl(self, *args, check=True):
        """verdictctl without a daemon (check, export)."""
        return run([verdictctl_binary(), *args], check=check)


class Verdictd:
    """One verdictd process in the router namespace, with its own control
    socket and an sd_notify socket that tells when it is ready and what its
    STATUS says."""

    _count = 0

    def __init__(self, lab, ruleset, args, config, wrapper=()):
        """`wrapper`: a command the router's `ip netns exec` runs under
        (nsenter into another mount namespace, say)."""
        Verdictd._count += 1
        self.lab = lab
        base = os.path.join(lab.tmp, f"verdictd{Verdictd._count}")
        self.control_socket = base + ".sock"
        self.log_path = base + ".log"
        self.notify_path = base + ".notify"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notifications = []
        # Read as they come: the socket holds only a few unread datagrams
        # (net.unix.max_dgram_qlen), and verdictd's sd_notify would block
        # behind them, as iptables commands each send one.
        self._notify_lock = threading.Lock()
        self._notify_stop = threading.Event()
        self._notify_reader = threading.Thread(target=self._read_notifications, daemon=True)
        self._notify_reader.start()
        # --debug: the log names each flow on which the kernel's conntrack
        # lastingly disagrees with verdictd's tracker.
        # The lab's own runtime directory (the NAT binding store), shared by
        # the daemons it starts one after another, as /run/verdictd is.
        if "--runtime-directory" not in args:
            args = ["--runtime-directory", os.path.join(lab.tmp, "run"), *args]
        args = [verdictd_binary(), "--control-socket", self.control_socket, "--debug", *args]
        if ruleset is not None:
            args += ["--ruleset", ruleset]
        if config is not None:
            args += ["--config", config]
        # The last good ruleset is kept in the lab, never in the machine's /var/lib.
        if "--last-good" not in args:
            args += ["--last-good", os.path.join(lab.tmp, "last-good.json")]
        steering = os.environ.get("VERDICTD_STEERING")
        if steering and "--steering" not in args:
            args += ["--steering", steering]
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([*wrapper, *lab.ns[ROUTER].exec_args(args)], stdout=log,
                                         stderr=subprocess.STDOUT, env=env)
        lab.processes.append(self.proc)

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def _read_notifications(self):
        while not self._notify_stop.is_set():
            if select.select([self.notify], [], [], 0.1)[0]:
                self._drain_notify(0)

    def _drain_notify(self, timeout):
        """Reads the lines waiting, after waiting up to `timeout` for one."""
        if timeout:
            select.select([self.notify], [], [], timeout)
        with self._notify_lock:
            self.notify.setblocking(False)
            try:
                while True:
                    self.notifications.extend(self.notify.recv(4096).decode().splitlines())
            except BlockingIOError:
                pass

    def wait_notification(self, predicate, since=0, timeout=10):
        """Waits for an sd_notify line, from the since-th on, satisfying
        predicate; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            self._drain_notify(0)
            for line in self.notifications[since:]:
                if predicate(line):
                    return line
            since = len(self.notifications)
            if self.proc.poll() is not None:
                raise RuntimeError(f"verdictd exited {self.proc.returncode}:\n{self.read_log()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"verdictd: no such notification in {timeout}s; got "
                                   f"{self.notifications}\n{self.read_log()}")
            self._drain_notify(min(left, 0.1))

    def wait_ready(self, timeout=10):
        self.wait_notification(lambda l: l == "READY=1", timeout=timeout)

    def statuses(self):
        """Every STATUS= text verdictd has sent so far."""
        self._drain_notify(0)
        return [l[len("STATUS="):] for l in self.notifications if l.startswith("STATUS=")]

    def ctl(self, *args, check=True):
        return self.lab.ns[ROUTER].run(
            [verdictctl_binary(), "--socket", self.control_socket, *args], check=check)

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def reload_by_signal(self, timeout=10):
        """SIGHUP, then waits for the READY=1 that ends the reload."""
        self._drain_notify(0)
        since = len(self.notifications)
        self.send_signal(signal.SIGHUP)
        self.wait_notification(lambda l: l == "READY=1", since, timeout)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the daemon; returns its exit status."""
        if self.proc.poll() is None:
            self.send_signal(sig)
            self.proc.wait(timeout=timeout)
        self._notify_stop.set()
        self._notify_reader.join()
        self.notify.close()
        return self.proc.returncode


class Journald:
    """systemd-journald in the router's network namespace and a mount
    namespace of its own, where /run/systemd, /run/log and /var/log/journal
    are fresh tmpfs: nothing of the machine's is read or written. It needs
    a cgroup file system at /sys/fs/cgroup, which `ip netns exec` leaves out
    (it mounts a fresh /sys): the unified hierarchy is mounted there, in that
    namespace only. Programs log to it when run under `wrapper`."""

    SCRIPT = """set -e
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mount -t tmpfs -o mode=0755 tmpfs /run/log
mount -t tmpfs -o mode=0755 tmpfs /var/log/journal
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
printf '[Journal]\\nStorage=volatile\\nReadKMsg=no\\nForwardToSyslog=no\\nForwardToKMsg=no\\n\
ForwardToConsole=no\\nForwardToWall=no\\nRateLimitIntervalSec=0\\n' \
  > /run/systemd/journald.conf.d/test.conf
exec /lib/systemd/systemd-journald
"""

    def __init__(self, lab):
        # ip netns exec and unshare exec what they run: the pid is journald's.
        self.proc = subprocess.Popen(
            lab.ns[ROUTER].exec_args(["unshare", "-m", "--propagation", "private",
                                      "sh", "-c", self.SCRIPT]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lab.processes.append(self.proc)
        self.wrapper = ["nsenter", "-t", str(self.proc.pid), "-m", "--"]
        deadline = time.monotonic() + 10
        while run([*self.wrapper, "test", "-S", "/run/systemd/journal/socket"],
                  check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("systemd-journald did not start")
            time.sleep(0.1)

    def entries(self):
        out = run([*self.wrapper, "journalctl", "-o", "json", "--no-pager",
                   "SYSLOG_IDENTIFIER=verdictd"], check=False).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def link_mac(name):
    """The MAC address of a lab link end: "client-eth0", "router-lan0",
    "router-wan0" or "server-eth0"."""
    return _MAC[name]


def remove(lab_id):
    """Removes the namespaces (with their links) and the directory of the lab
    of that id; what it started must have been stopped by pid before."""
    for role in (CLIENT, ROUTER, SERVER):
        subprocess.run(["ip", "netns", "del", _namespace_name(lab_id, role)], capture_output=True)
    shutil.rmtree(_tmp_path(lab_id), ignore_errors=True)


def main(args):
    """`lab.py up` prints LAB_ID, LAB_CLIENT, LAB_ROUTER, LAB_SERVER (the
    namespaces) and LAB_TMP (a directory removed with the lab) for a shell's
    eval; `lab.py down ID` removes that lab."""
    if args == ["up"]:
        lab = Lab()
        lab.keep()
        names = {"ID": lab.id, "CLIENT": lab.ns[CLIENT].name, "ROUTER": lab.ns[ROUTER].name,
                 "SERVER": lab.ns[SERVER].name, "TMP": lab.tmp}
        for key, value in names.items():
            print(f"LAB_{key}={shlex.quote(value)}")
        return 0
    if len(args) == 2 and args[0] == "down" and _ID.fullmatch(args[1]):
        remove(args[1])
        return 0
    print("usage: lab.py up | lab.py down vd-XXXXXX", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
