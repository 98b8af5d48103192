#!/usr/bin/env python3
"""What iptables' tools cost on verdictd, beside the kernel's: for rulesets
of N rules in the router's filter table (a chain of N port rules, as a
fail2ban or ufw host grows them), the time of

  import    `verdictctl import` of the N-rule iptables-save file
  command   one `iptables -A` then `-D` pair (fail2ban's ban and unban),
            through iptables-verdictd to a running verdictd, and through
            iptables-legacy to the kernel, each a full round; per command
  restore   `iptables-restore` of the whole file, both ways

printed with verdictd's ratio to the kernel. Each change on verdictd is one
new ruleset generation, checked whole: its cost grows with N.
Prints figures; it is not a test. Builds nothing: give the build directory as
$1 (default ./build).

    python3 bench/iptables_commands.py build
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("VERDICTD_BUILD_DIR", os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                                                            else os.path.join(TOP, "build")))

from lab import ROUTER, Lab, verdictctl_binary  # noqa: E402

SIZES = (10, 1000, 10000)
ROUNDS = 10


def ruleset_text(n):
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":services - [0:0]", "-A INPUT -p tcp -j services"]
    lines += [f"-A services -s 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32 -p tcp "
              f"-m tcp --dport {1 + i % 60000} -j ACCEPT" for i in range(n)]
    return "\n".join(lines + ["COMMIT", ""])


def timed(run, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    lab = Lab()
    tools = os.path.join(os.environ["VERDICTD_BUILD_DIR"], "daemon", "ctl")
    ns = lab.ns[ROUTER]
    try:
        print(f"{'rules':>6} {'what':<22} {'kernel ms':>10} {'verdictd ms':>12} {'ratio':>7}")
        for n in SIZES:
            text = ruleset_text(n)
            with tempfile.NamedTemporaryFile("w", suffix=".v4", delete=False) as f:
                f.write(text)
                path = f.name
            imported = timed(lambda: subprocess.run([verdictctl_binary(), "import", path],
                                                    check=True, capture_output=True), 3)
            print(f"{n:>6} {'import':<22} {'':>10} {imported * 1000:>12.1f} {'':>7}")
            figures = {}
            for mode in ("kernel", "verdictd"):
                daemon = None
                iptables, restore = ["iptables-legacy"], ["iptables-legacy-restore"]
                if mode == "verdictd":
                    daemon = lab.start_verdictd(os.path.join(TOP, "rules", "default.json"))
                    env = ["env", f"VERDICTD_SOCKET={daemon.control_socket}"]
                    iptables = [*env, os.path.join(tools, "iptables-verdictd")]
                    restore = [*env, os.path.join(tools, "iptables-verdictd-restore")]
                figures[mode, "restore"] = timed(
                    lambda: ns.run(restore, input=text, timeout=600), 3)
                rule = ["-A", "services", "-s", "192.0.2.7", "-j", "DROP"]

                def ban_and_unban():
                    ns.run([*iptables, *rule])
                    ns.run([*iptables, "-D", *rule[1:]])
                figures[mode, "command"] = timed(ban_and_unban, ROUNDS) / 2
                if daemon:
                    daemon.stop()
                lab.kernel_reset()
            for what, label in (("restore", "restore (whole file)"),
                                ("command", "command (-A or -D)")):
                k, v = figures["kernel", what], figures["verdictd", what]
                print(f"{n:>6} {label:<22} {k * 1000:>10.1f} {v * 1000:>12.1f} {v / k:>7.2f}")
            os.unlink(path)
    finally:
        lab.destroy()


if __name__ == "__main__":
    main()
