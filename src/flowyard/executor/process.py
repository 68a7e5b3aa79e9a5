"""One attempt's OS process: environment, log file, spawn, signals, reaping, memory.

These are the mechanisms the launcher (:mod:`flowyard.executor.launcher`:
prepare, spawn, watch, reap, judge) and :class:`~flowyard.executor.local.LocalExecutor`
(the command line and environment, memory, draining a group) are built from;
the policy (when to kill, what to report) stays with them. Linux is the
target: exits are watched through pidfds and memory is read from ``/proc``.
On other POSIX systems :func:`open_pidfd` returns None (the launcher then
polls) and :func:`scan_groups` finds nothing (memory limits are not enforced).

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
import signal
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
START_FAILURE_PREFIX = "Flowyard could not start this task: "


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


def prepare(
    log_path: str | Path, log_header: str, workdir: str | Path, task_file: tuple[str, str] | None
) -> int:
    """Append the header to the log, create the workdir (and the task file); return the log fd.

    The log comes first, so a workdir that cannot be made still leaves the
    header for the reason to follow. The fd is opened O_APPEND, so attempts
    sharing a log never overwrite each other and stdout/stderr written through
    it keep their order. The caller owns (and must close) the fd. Plain os
    calls first, parents only when missing: this runs once per attempt.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    try:
        fd = os.open(log_path, flags, LOG_FILE_MODE)
    except FileNotFoundError:  # the first attempt of the instance: its log directory is new
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        fd = os.open(log_path, flags, LOG_FILE_MODE)
    try:
        write_all(fd, log_header.encode("utf-8"))
        try:
            os.mkdir(workdir)
        except FileExistsError:
            pass  # a file in its place makes the spawn fail, with the reason
        except FileNotFoundError:
            os.makedirs(workdir, exist_ok=True)
        if task_file is not None:
            name, text = task_file
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as handle:
                handle.write(text)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def task_file(spec: AttemptSpec) -> tuple[str, str] | None:
    """The file an attempt needs in its workdir before it starts: (name, text), or None."""
    return (PYTHON_TASK_FILE, spec.command) if spec.kind is TaskKind.PYTHON else None


def check_spawnable(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Raise ValueError naming what cannot be passed to exec (a NUL byte, an "=" in a name).

    exec(2) takes NUL-terminated strings, so Popen would refuse them anyway, as
    "embedded null byte"; this says where the byte is.
    """
    for index, arg in enumerate(argv):
        if "\0" in arg:
            raise ValueError("the command holds a NUL byte" if index else "the program name holds a NUL byte")
    for name, value in env.items():
        if "\0" in name or "=" in name or not name:
            raise ValueError(f"invalid environment variable name {name!r}")
        if "\0" in value:
            raise ValueError(f"environment variable {name} holds a NUL byte")


def log_start_failure(log_path: Path, reason: str, header: str = "") -> None:
    """Append ``header`` and the reason an attempt could not start to its log, if the log can be written."""
    with contextlib.suppress(OSError, ValueError):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8", errors="replace") as handle:
            handle.write(f"{header}{START_FAILURE_PREFIX}{reason}\n")


def describe_error(error: BaseException) -> str:
    """An exception as a start failure's reason: its own words, or its class when it has none."""
    return str(error) or type(error).__name__


def spawn(
    argv: Sequence[str], cwd: str | Path, env: Mapping[str, str], log_fd: int, stdin_fd: int | None = None
) -> subprocess.Popen[bytes]:
    """Start a process as the leader of a new session and process group.

    stdout and stderr are the log fd itself: the kernel writes the output, no
    Python thread copies it. stdin is ``stdin_fd`` (an open /dev/null saves an
    open per spawn), else /dev/null. No ``preexec_fn``, so CPython can use vfork.
    """
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL if stdin_fd is None else stdin_fd,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )


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


def peek_status(pid: int) -> int | None:
    """An exited child's raw wait status, leaving it unreaped (a zombie); None if it is lost.

    Whoever must know how the child ended before its pid is released (the launcher writes the
    exit record first, so that recovery, seeing the zombie gone, finds the record) peeks, then reaps.
    """
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        return None
    if info is None:  # only with WNOHANG, which is not asked for
        return None
    if info.si_code == os.CLD_EXITED:
        return (info.si_status & 0xFF) << 8
    return info.si_status | (0x80 if info.si_code == os.CLD_DUMPED else 0)  # killed by a signal


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


def describe_codes(codes: Collection[int]) -> str:
    """Success codes as messages show them: "[0, 3]"."""
    return "[" + ", ".join(str(code) for code in sorted(codes)) + "]"
