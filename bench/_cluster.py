"""A throwaway Flowyard cluster for the benchmarks: one API, one scheduler, Celery workers, PostgreSQL.

Every process is a real ``python -m flowyard <role>`` with its own data dir and
port under a temporary directory; they share a scratch database (see
:mod:`_pg`) and a broker queue under a unique prefix, both removed on
exit. Process logs stay in the temporary directory, whose path is printed, so a
slow number can be looked into afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from _pg import _libpq, scratch_database

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(what: str, ready: Callable[[], object], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


@dataclass
class Cluster:
    root: Path
    api_url: str
    database_url: str
    broker_url: str
    prefix: str


class _Processes:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str, *args: str) -> None:
        data_dir = self.root / name
        data_dir.mkdir(parents=True)
        self.ports[name] = port = free_port()
        with (self.root / f"{name}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "flowyard", *args, "--data-dir", str(data_dir), "--port", str(port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def healthy(self, name: str) -> bool:
        if self.procs[name].poll() is not None:
            tail = (self.root / f"{name}.log").read_text()[-3000:]
            raise RuntimeError(f"{name} exited with {self.procs[name].returncode}:\n{tail}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports[name]}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _workers_ready(database_url: str, names: list[str]) -> bool:
    with psycopg.connect(_libpq(database_url)) as conn:
        rows = conn.execute(
            "SELECT name FROM workers WHERE heartbeat_at > now() - interval '10 s'"
        ).fetchall()
    return {name for (name,) in rows} >= set(names)


def _consuming(broker_url: str, name: str) -> bool:
    """True when the Celery consumer of worker ``name`` answers a ping (it is past its start-up)."""
    from flowyard.roles.worker import ping_worker
    from flowyard.settings import load_settings

    settings = load_settings(executor="celery", broker_url=broker_url)
    return ping_worker(settings, name, timeout=1.0)


def _delete_queue(broker_url: str, queue: str) -> None:
    from kombu import Connection

    with (
        Connection(broker_url, connect_timeout=3) as conn,
        conn.channel() as channel,
        contextlib.suppress(Exception),
    ):
        channel.queue_delete(queue)


@contextlib.contextmanager
def running_cluster(broker: str, *, workers: int = 2, concurrency: int = 4) -> Iterator[Cluster]:
    """Start the cluster, wait until every role is up, yield it; stop it and clean up on exit."""
    broker_url = BROKERS[broker]
    prefix = f"flowyard-bench-{secrets.token_hex(4)}."
    root = Path(tempfile.mkdtemp(prefix="flowyard-bench-cluster-"))
    with scratch_database() as database_url:
        env = dict(
            os.environ,
            FLOWYARD_DATABASE_URL=database_url,
            FLOWYARD_EXECUTOR="celery",
            FLOWYARD_BROKER_URL=broker_url,
            FLOWYARD_QUEUE_PREFIX=prefix,
            FLOWYARD_LOG_LEVEL="warning",
        )
        procs = _Processes(root, env)
        names = [f"worker-{i + 1}" for i in range(workers)]
        try:
            procs.start("api", "api", "--no-auth")
            wait_until("the api", lambda: procs.healthy("api"))  # it also runs the migrations
            procs.start("scheduler", "scheduler")
            for name in names:
                procs.start(
                    name, "worker", "--name", name, "--queues", "default", "--concurrency", str(concurrency)
                )
            wait_until("the scheduler", lambda: procs.healthy("scheduler"))
            wait_until("the workers' heartbeats", lambda: _workers_ready(database_url, names))
            for name in names:
                wait_until(f"{name}'s consumer", lambda n=name: _consuming(broker_url, n))  # type: ignore[misc]
            print(f"cluster on {broker}: processes and their logs in {root}", flush=True)
            yield Cluster(root, f"http://127.0.0.1:{procs.ports['api']}", database_url, broker_url, prefix)
        finally:
            procs.stop()
            _delete_queue(broker_url, f"{prefix}default")


# --- where the time goes --------------------------------------------------------------------------

PHASES = (
    ("trigger -> first attempt queued", "scheduler notices the new instance"),
    ("queued -> claimed by a worker", "publish, broker, claim; a free slot"),
    ("claimed -> reported ended", "spawn `true`, wait, write the result"),
    ("last upstream ended -> queued", "result poll + scheduler step"),
    ("last ended -> instance SUCCESS", "result poll + scheduler step"),
)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


def breakdown(database_url: str, instance_ids: list[str]) -> dict[str, list[float]]:
    """Per-phase latencies of the given instances' attempts, from the rows the processes wrote.

    All processes run on this machine, so their clocks agree. "last upstream ended -> queued"
    is measured from the end of a task's last upstream (the chain's links, the fan's join).
    """
    with psycopg.connect(_libpq(database_url)) as conn:
        instances = conn.execute(
            "SELECT id, created_at, ended_at FROM flow_instances WHERE id = ANY(%s)", (instance_ids,)
        ).fetchall()
        attempts = conn.execute(
            "SELECT t.id, t.flow_instance_id, a.queued_at, a.started_at, a.ended_at, t.upstream"
            " FROM task_attempts a JOIN task_instances t ON t.id = a.task_instance_id"
            " WHERE t.flow_instance_id = ANY(%s)",
            (instance_ids,),
        ).fetchall()
    by_task = {row[0]: row for row in attempts}
    phases: dict[str, list[float]] = {label: [] for label, _ in PHASES}
    for instance_id, created_at, ended_at in instances:
        mine = [a for a in attempts if a[1] == instance_id]
        if not mine:
            continue
        first = min(a[2] for a in mine)
        last = max((a[4] for a in mine if a[4] is not None), default=None)
        for label, value in (
            (PHASES[0][0], _seconds(created_at, first)),
            (PHASES[4][0], _seconds(last, ended_at)),
        ):
            if value is not None:
                phases[label].append(value)
    for _, _, queued_at, started_at, ended_at, _ in attempts:
        for label, value in (
            (PHASES[1][0], _seconds(queued_at, started_at)),
            (PHASES[2][0], _seconds(started_at, ended_at)),
        ):
            if value is not None:
                phases[label].append(value)
    for _, _, queued_at, _, _, upstream in attempts:
        ends = [by_task[u][4] for u in json.loads(upstream) if u in by_task]
        if ends and None not in ends:
            phases[PHASES[3][0]].append((queued_at - max(ends)).total_seconds())
    return phases


def print_breakdown(phases: dict[str, list[float]]) -> None:
    for label, what in PHASES:
        values = phases[label]
        if not values:
            continue
        print(
            f"    {label:<32} n={len(values):<4} median {statistics.median(values) * 1000:7.1f} ms"
            f"   max {max(values) * 1000:7.1f} ms   sum {sum(values):6.2f} s   ({what})",
            flush=True,
        )
