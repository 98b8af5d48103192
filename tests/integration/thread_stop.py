"""Holds one thread of another process still while its other threads run on
(ptrace: seize the thread alone, step it from system call to system call, and
leave it stopped at the entry of a chosen one). SIGSTOP cannot do that: it
stops every thread of the process. x86-64 only.

The calls must all come from the thread that created the ThreadStop: ptrace
ties a tracee to the tracing thread.
"""

import ctypes
import os
import signal

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long

PTRACE_GETREGS, PTRACE_DETACH, PTRACE_SYSCALL = 12, 17, 24
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
PTRACE_O_TRACESYSGOOD = 1
WALL = 0x40000000  # __WALL: wait for a thread that is not our child
ENOSYS = 38
SYSCALLS = {"poll": 7, "sendto": 44}  # x86-64 numbers


class _Registers(ctypes.Structure):
    """struct user_regs_struct of x86-64, as far as orig_rax."""
    _fields_ = [(name, ctypes.c_ulong) for name in (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
        "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds",
        "es", "fs", "gs")]


def _ptrace(request, tid, addr=None, data=None):
    if _libc.ptrace(request, tid, addr, data) < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"ptrace {request} on thread {tid}: {os.strerror(error)}")


def thread_named(pid, name):
    """The id of the thread of `pid` whose name (comm) is `name`."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == name:
                return int(tid)
    raise LookupError(f"process {pid} has no thread named {name}")


class ThreadStop:
    """Thread `tid` held at the entry of system call `syscall` (by name) until
    release(); the other threads of its process run on."""

    def __init__(self, tid, syscall):
        self.tid = tid
        number = SYSCALLS[syscall]
        _ptrace(PTRACE_SEIZE, tid, None, PTRACE_O_TRACESYSGOOD)
        try:
            _ptrace(PTRACE_INTERRUPT, tid)
            self._wait()
            deliver = 0
            while True:
                _ptrace(PTRACE_SYSCALL, tid, None, deliver)
                stop_signal, event = self._wait()
                # A signal that reached the thread is passed on; other stops are ours.
                syscall_stop = stop_signal == signal.SIGTRAP | 0x80
                ours = syscall_stop or stop_signal == signal.SIGTRAP or event
                deliver = 0 if ours else stop_signal
                if not syscall_stop:
                    continue
                registers = _Registers()
                _ptrace(PTRACE_GETREGS, tid, None, ctypes.addressof(registers))
                # At a system call's entry rax holds -ENOSYS; at its exit, the result.
                entering = ctypes.c_long(registers.rax).value == -ENOSYS
                if entering and registers.orig_rax == number:
                    return
        except BaseException:
            self.release()
            raise

    def _wait(self):
        _, status = os.waitpid(self.tid, WALL)
        if not os.WIFSTOPPED(status):
            raise RuntimeError(f"thread {self.tid} ended while held (status {status:#x})")
        return os.WSTOPSIG(status), status >> 16  # the signal, and the ptrace event if any

    def release(self):
        """Lets the thread go on: the system call it was held at proceeds."""
        try:
            _ptrace(PTRACE_DETACH, self.tid)
        except ProcessLookupError:
            pass
