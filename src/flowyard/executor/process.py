"""One attempt's OS process: environment, log file, spawn, signals, reaping, waiting, memory.

These are the mechanisms :class:`~flowyard.executor.local.LocalExecutor` is
built from; the policy (when to kill, what to report) stays there. Linux is
the target: exits are watched through pidfds and memory is read from
``/proc``. On other POSIX systems :func:`open_pidfd` returns None (the caller
then polls) and :func:`scan_groups` finds nothing (memory limits are not
enforced).

Memory limits are enforced by sampling, not by the kernel: RLIMIT_AS is not
set on the child. It limits each process's *virtual* address space rather
than the tree's resident memory, so it does not implement the contract, and at
the sizes EnOS allows (0.3-4 GB) it breaks ordinary programs: the JVM cannot
reserve its code cache at 1 GB and Node cannot start at 300 MB. Setting it
would also need ``preexec_fn``, which makes CPython fork instead of vfork and
is unsafe with threads (spawn went from 0.7 to 1.9 ms when measured). The
real fix is a cgroup per attempt (memory.max), which needs delegation the
server does not have by default.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from flowyard.executor.base import AttemptSpec, TaskKind

# What an attempt inherits from the executor's environment; everything else it
# needs must come through AttemptSpec.env, so tasks cannot depend by accident on
# the server's secrets or configuration.
INHERITED_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
PYTHON_TASK_FILE = "task.py"
LOG_FILE_MODE = 0o644
MIB = 1024 * 1024


def base_environment(source: Mapping[str, str]) -> dict[str, str]:
    """The minimal environment every attempt starts from, taken from ``source`` (os.environ)."""
    env = {name: source[name] for name in INHERITED_ENV if name in source}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def attempt_environment(base: Mapping[str, str], spec: AttemptSpec) -> dict[str, str]:
    """``base`` plus the attempt's own variables, which win."""
    env = dict(base)
    if spec.kind is TaskKind.PYTHON:
        # Unbuffered, so print() output and a traceback land in the log in the order they happened.
        env["PYTHONUNBUFFERED"] = "1"
    env.update(spec.env)
    return env


def argv_for(spec: AttemptSpec) -> list[str]:
    """The command line of a shell or python attempt (run with cwd = workdir)."""
    if spec.kind is TaskKind.SHELL:
        return ["bash", "-c", spec.command]
    if spec.kind is TaskKind.PYTHON:
        return [sys.executable, PYTHON_TASK_FILE]
    raise ValueError(f"no process for a {spec.kind} attempt")


def prepare(spec: AttemptSpec) -> int:
    """Create the workdir (and task.py), append the header to the log; return the log fd.

    The fd is opened O_APPEND, so attempts sharing a log never overwrite each
    other and stdout/stderr written through it keep their order. The caller
    owns (and must close) the fd.
    """
    spec.workdir.mkdir(parents=True, exist_ok=True)
    if spec.kind is TaskKind.PYTHON:
        (spec.workdir / PYTHON_TASK_FILE).write_text(spec.command, encoding="utf-8")
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    fd = os.open(spec.log_path, flags, LOG_FILE_MODE)
    try:
        data = memoryview(spec.log_header.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    except BaseException:
        os.close(fd)
        raise
    return fd


def spawn(spec: AttemptSpec, env: Mapping[str, str], log_fd: int) -> subprocess.Popen[bytes]:
    """Start the attempt as the leader of a new session and process group.

    stdout and stderr are the log fd itself: the kernel writes the output, no
    Python thread copies it. No ``preexec_fn``, so CPython can use vfork.
    """
    return subprocess.Popen(
        argv_for(spec),
        cwd=spec.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )


def start(spec: AttemptSpec, base_env: Mapping[str, str]) -> subprocess.Popen[bytes] | None:
    """Prepare and spawn the attempt; None for a noop, which is only prepared.

    Raises OSError or SubprocessError when it cannot start; the header may then already be logged.
    """
    log_fd = prepare(spec)
    try:
        if spec.kind is TaskKind.NOOP:
            return None
        return spawn(spec, attempt_environment(base_env, spec), log_fd)
    finally:
        os.close(log_fd)  # the child has its own copies as stdout and stderr


def open_pidfd(pid: int) -> int | None:
    """A pidfd that becomes readable when ``pid`` exits, or None where the kernel has none."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None  # ENOSYS (kernel < 5.3) or a seccomp filter: fall back to polling
    os.set_inheritable(fd, False)
    return fd


def has_exited(pid: int) -> bool:
    """True once ``pid`` (our child) has exited, without reaping it; for kernels without pidfd."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True  # already reaped elsewhere: reap() will report it lost
    return info is not None


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group; a group that is already gone is not an error.

    Only call this while the leader is unreaped (running or a zombie): the
    zombie keeps its pid, so the group id cannot have been reused by then.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def reap(pid: int) -> int | None:
    """Collect an exited child's raw wait status, or None if it is lost (reaped by someone else)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None  # a stray waitpid(-1) elsewhere in the process took it; the status is gone
    return status


def judge(status: int, success_codes: Collection[int]) -> tuple[bool, int, str]:
    """(succeeded, exit code, message) for a wait status.

    A signal death is reported as exit code 128 + n, as the shell and
    Kubernetes do, and is never a success: success codes apply to exits only.
    """
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return False, 128 + number, f"killed by signal {name}"
    code = os.waitstatus_to_exitcode(status)
    if code in success_codes:
        return True, code, f"exit code {code}"
    return False, code, f"exit code {code} not in success codes {describe_codes(success_codes)}"


def group_exists(pgid: int) -> bool:
    """True while any process, zombies included, is still in group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class GroupUsage:
    rss_bytes: int  # resident memory summed over the group's processes
    live: int  # processes of the group that are not zombies


def scan_groups(pgids: Collection[int], proc_root: str = "/proc") -> dict[int, GroupUsage]:
    """Memory and live processes of each group in ``pgids``, from one pass over ``/proc``.

    One pass serves all groups, so the cost is per host process, not per
    attempt. RSS counts pages shared between forked processes once per
    process, so the sum errs on the high side. A process that left its group
    (setpgid/setsid) is not seen, and nor is it killed with the group. Without
    ``/proc`` every group reads as empty.
    """
    rss = dict.fromkeys(pgids, 0)
    live = dict.fromkeys(pgids, 0)
    try:
        names = os.listdir(proc_root) if rss else []
    except OSError:
        names = []
    page = os.sysconf("SC_PAGE_SIZE")
    for name in names:
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"{proc_root}/{name}/stat", os.O_RDONLY)
        except OSError:
            continue  # exited since listdir
        try:
            stat = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        # The command name (field 2) is in parentheses and may contain anything; fields resume after
        # the last ')'. From there: [0] state (3), [2] pgrp (5), [21] rss in pages (24).
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 22 or (pgrp := int(fields[2])) not in rss:
            continue
        rss[pgrp] += int(fields[21]) * page
        if fields[0] not in (b"Z", b"X"):
            live[pgrp] += 1
    return {pgid: GroupUsage(rss[pgid], live[pgid]) for pgid in rss}


class ExitWaiter:
    """Sleeps until a watched pidfd becomes readable (its process exited), :meth:`wake`, or a timeout.

    Watching and waking are safe from any thread while another one waits. Without epoll (non-Linux)
    nothing can be watched and the caller must poll for exits.
    """

    def __init__(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        if self._epoll is not None:
            self._epoll.register(self._wake_r, select.EPOLLIN)

    @property
    def can_watch(self) -> bool:
        return self._epoll is not None

    def watch(self, pidfd: int) -> None:
        assert self._epoll is not None
        self._epoll.register(pidfd, select.EPOLLIN)

    def unwatch(self, pidfd: int) -> None:
        assert self._epoll is not None
        self._epoll.unregister(pidfd)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")  # a full pipe already means "wake up"

    def wait(self, timeout: float | None) -> list[int]:
        """The readable pidfds; empty after a wake-up or the timeout (None = no timeout)."""
        if self._epoll is not None:
            fds = [fd for fd, _ in self._epoll.poll(-1 if timeout is None else timeout)]
        else:
            fds, _, _ = select.select([self._wake_r], [], [], timeout)
        if self._wake_r in fds:
            fds.remove(self._wake_r)
            with contextlib.suppress(BlockingIOError):
                while os.read(self._wake_r, 4096):
                    pass
        return fds

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def describe_codes(codes: Collection[int]) -> str:
    """Success codes as messages show them: "[0, 3]"."""
    return "[" + ", ".join(str(code) for code in sorted(codes)) + "]"
