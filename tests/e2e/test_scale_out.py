"""Scale-out with real processes: one API, two schedulers, two Celery workers on one PostgreSQL.

Run once with Redis and once with RabbitMQ as the broker. The broker is reached
through a TCP proxy owned by the test, so "stop the broker for a while" cuts
every connection without disturbing the shared service. Every task appends
``<attempt id> <worker>`` to a record file: each attempt must appear exactly once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from flowyard.client import FlowyardClient
from tests.conftest import create_pg_database, drop_pg_database, postgres_unavailable
from tests.e2e.test_crash_recovery import FINAL, flow, processes_of, wait_for
from tests.e2e.test_server_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
BROKERS = {"redis": ("redis", 6379), "amqp": ("amqp", 5672)}
LEASE, LOST, REQUEUE = 3, 4, 5  # seconds, short so the test is quick


class Proxy:
    """A TCP relay to the broker that can be switched off (every connection cut) and on again."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()


def broker_unavailable(port: int) -> str | None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return None
    except OSError as error:
        return f"no broker at 127.0.0.1:{port}: {error}"


class Cluster:
    def __init__(self, root: Path, database_url: str, broker_url: str, prefix: str) -> None:
        self.root = root
        self.env = dict(
            os.environ,
            FLOWYARD_DATABASE_URL=database_url,
            FLOWYARD_EXECUTOR="celery",
            FLOWYARD_BROKER_URL=broker_url,
            FLOWYARD_QUEUE_PREFIX=prefix,
            FLOWYARD_SCHEDULER_LEASE_SECONDS=str(LEASE),
            FLOWYARD_ATTEMPT_LOST_SECONDS=str(LOST),
            FLOWYARD_REQUEUE_SECONDS=str(REQUEUE),
            FLOWYARD_HEARTBEAT_SECONDS="1",
            FLOWYARD_LOG_LEVEL="warning",
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str, *args: str) -> None:
        data_dir = self.root / name
        data_dir.mkdir(parents=True, exist_ok=True)
        port = self.ports.setdefault(name, free_port())
        log = (self.root / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "flowyard", *args, "--data-dir", str(data_dir), "--port", str(port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def healthy(self, name: str) -> bool:
        import httpx

        assert self.procs[name].poll() is None, (self.root / f"{name}.log").read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports[name]}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def leader(self) -> str | None:
        import httpx

        for name in ("scheduler-1", "scheduler-2"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            try:
                body = httpx.get(f"http://127.0.0.1:{self.ports[name]}/health", timeout=2).json()
            except httpx.HTTPError:
                continue
            if body.get("scheduler", {}).get("leader"):
                return name
        return None

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def db_rows(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


def delete_queues(broker_url: str, prefix: str) -> None:
    from kombu import Connection

    with Connection(broker_url, connect_timeout=3) as conn, conn.channel() as channel:
        for resource in ("default",):
            with contextlib.suppress(Exception):
                channel.queue_delete(f"{prefix}{resource}")


@pytest.fixture(params=sorted(BROKERS))
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Cluster, Proxy, str]]:
    scheme, port = BROKERS[request.param]
    reason = postgres_unavailable() or broker_unavailable(port)
    if reason:
        pytest.skip(reason)
    database_url, db_name = create_pg_database()
    proxy = Proxy(port)
    proxy.start()
    prefix = f"flowyard-e2e-{uuid.uuid4().hex[:8]}."
    auth = "guest:guest@" if scheme == "amqp" else ""
    path = "//" if scheme == "amqp" else "/0"
    cluster = Cluster(tmp_path, database_url, f"{scheme}://{auth}127.0.0.1:{proxy.port}{path}", prefix)
    try:
        yield cluster, proxy, database_url
    finally:
        cluster.stop_all()
        proxy.stop()
        delete_queues(f"{scheme}://{auth}127.0.0.1:{port}{path}", prefix)
        drop_pg_database(db_name)


def records(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]  # type: ignore[misc]


def test_two_schedulers_two_workers_survive_kills_and_a_broker_outage(
    cluster: tuple[Cluster, Proxy, str], tmp_path: Path
) -> None:
    nodes, proxy, database_url = cluster
    record = tmp_path / "ran.txt"
    task = f'echo "$FLOWYARD_ATTEMPT_ID $FLOWYARD_WORKER" >> {record}'
    nodes.start("api", "api")
    wait_for("the api", lambda: nodes.healthy("api"), timeout=60)
    for name in ("scheduler-1", "scheduler-2"):
        nodes.start(name, "scheduler")
    for name in ("worker-1", "worker-2"):
        nodes.start(name, "worker", "--name", name, "--concurrency", "4")
    wait_for("the schedulers", lambda: nodes.healthy("scheduler-1") and nodes.healthy("scheduler-2"), 60)
    wait_for("a leader", nodes.leader, timeout=30)
    wait_for(
        "both workers",
        lambda: (
            len(db_rows(database_url, "SELECT name FROM workers WHERE heartbeat_at > now() - interval '5 s'"))
            == 2
        ),
        timeout=60,
    )
    creds = tmp_path / "api" / "credentials.json"
    with FlowyardClient.from_credentials(creds, url=f"http://127.0.0.1:{nodes.ports['api']}") as client:
        root = client.list_directories()[0]["key"]
        ticking = client.import_flow(
            dict(flow("ticking", task), type=1, cron="*/2 * * * * ?"), flow_name="ticking", dir_id=root
        )
        client.enable_flow(ticking)

        # 1. A hundred flows at once: all succeed, each attempt ran exactly once, on both workers.
        flows = [client.import_flow(flow(f"f{i}", task), flow_name=f"f{i}", dir_id=root) for i in range(100)]
        now_ms = client.get_current_time()
        instances = [client.trigger_flow(flow_id, now_ms) for flow_id in flows]
        for instance in instances:
            done = wait_for(
                "100 instances",
                lambda i=instance: (r := client.get_flow_instance(i))["status"] in FINAL and r,
                120,
            )
            assert done["statusDesc"] == "SUCCESS", done

        # Operations: both workers answer a ping, an unknown one does not; metrics are scraped.
        assert ping(nodes, "worker-1") == 0 and ping(nodes, "worker-2") == 0
        assert ping(nodes, "nobody", "--ping-timeout", "1") == 1
        api_metrics = scrape(nodes, "api")
        assert api_metrics["flowyard_workers_alive"] == 2
        assert api_metrics['flowyard_queue_depth{queue="default"}'] == 0
        leading = scrape(nodes, nodes.leader() or "")
        assert leading["flowyard_scheduler_leader"] == 1
        assert leading["flowyard_task_duration_seconds_count"] >= 100

        # 2. kill -9 a worker while it runs tasks: its attempts are lost, then retried on the other
        #    worker when the task has retries left, failed with the reason otherwise.
        slow = [
            client.import_flow(
                flow(f"slow{i}", f"{task}; sleep 3", retryLimit=1 if i < 4 else 0),
                flow_name=f"slow{i}",
                dir_id=root,
            )
            for i in range(6)
        ]
        now_ms = client.get_current_time()
        slow_instances = [client.trigger_flow(flow_id, now_ms) for flow_id in slow]
        running = wait_for(
            "slow tasks to run",
            lambda: (
                len(rows := db_rows(database_url, "SELECT owner FROM task_attempts WHERE state = 'running'"))
                >= 6
                and rows
            ),
            30,
        )
        victim = Counter(owner for (owner,) in running).most_common(1)[0][0]
        doomed = [
            attempt_id
            for (attempt_id,) in db_rows(
                database_url, "SELECT id FROM task_attempts WHERE state = 'running' AND owner = %s", victim
            )
        ]
        assert doomed and all(processes_of(a, tmp_path) for a in doomed)
        killed_at = time.monotonic()
        nodes.kill(victim)
        # Its guard kills the task processes at once: nothing runs beside the retries to come.
        wait_for(
            "the dead worker's tasks to be killed",
            lambda: not any(processes_of(a, tmp_path) for a in doomed),
            5,
        )
        for index, instance in enumerate(slow_instances):
            done = wait_for(
                "slow instances",
                lambda i=instance: (r := client.get_flow_instance(i))["status"] in FINAL and r,
                60,
            )
            (task_info,) = json.loads(done["graph"])["tasks"]
            hit = f"{task_info['taskInstId']}#1" in doomed
            if index < 4 or not hit:  # a retry on the other worker, or never on the dead one
                assert done["statusDesc"] == "SUCCESS", done
            else:
                assert done["statusDesc"] == "FAIL", done
                log = client.get_task_instance_log(str(task_info["taskInstId"]))
                assert f"lost: no heartbeat from {victim}" in log
        assert time.monotonic() - killed_at < LOST + 3 + 15  # lost within the bound, then 3 s of work
        lost = db_rows(database_url, "SELECT id, message FROM task_attempts WHERE outcome = 'lost'")
        assert sorted(a for a, _ in lost) == sorted(doomed)
        assert all(f"no heartbeat from {victim}" in message for _, message in lost), lost

        # 3. kill -9 the leading scheduler: the other takes over, cron ticks go on.
        old_leader = nodes.leader()
        assert old_leader is not None
        nodes.kill(old_leader)
        wait_for("a new leader", lambda: nodes.leader() not in (None, old_leader), timeout=LEASE + 10)
        before = len(ticks(database_url, ticking))
        wait_for("ticks after the failover", lambda: len(ticks(database_url, ticking)) >= before + 2, 20)

        # 4. The broker goes away for a while: instances triggered meanwhile complete after it returns.
        late = [
            client.import_flow(flow(f"late{i}", task), flow_name=f"late{i}", dir_id=root) for i in range(10)
        ]
        proxy.stop()
        now_ms = client.get_current_time()
        during = [client.trigger_flow(flow_id, now_ms) for flow_id in late]
        time.sleep(3)  # the outage lasts a while: this is the scenario, not a wait for a schedule
        proxy.start()
        for instance in during:
            done = wait_for(
                "instances after the outage",
                lambda i=instance: (r := client.get_flow_instance(i))["status"] in FINAL and r,
                90,
            )
            assert done["statusDesc"] == "SUCCESS", done

        # The cron flow's instances all succeed; nothing is left queued or running anywhere.
        client.disable_flow(ticking)
        for (instance_id,) in db_rows(
            database_url, "SELECT id FROM flow_instances WHERE flow_id = %s", ticking
        ):
            done = wait_for(
                "cron instances",
                lambda i=instance_id: (r := client.get_flow_instance(i))["status"] in FINAL and r,
                60,
            )
            assert done["statusDesc"] == "SUCCESS", done
        assert db_rows(database_url, "SELECT id, state FROM task_attempts WHERE state <> 'done'") == []

    # Every attempt ran exactly once; both workers took part; every cron tick made one instance.
    seen = records(record)
    counts = Counter(attempt for attempt, _ in seen)
    assert [a for a, n in counts.items() if n > 1] == []
    done_attempts = {
        attempt_id
        for (attempt_id,) in db_rows(database_url, "SELECT id FROM task_attempts WHERE outcome = 'success'")
    }
    assert done_attempts <= set(counts)
    assert {worker for _, worker in seen} == {"worker-1", "worker-2"}
    scheduled = ticks(database_url, ticking)
    assert len(scheduled) == len(set(scheduled))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(scheduled)]
    assert max(gaps) <= LEASE + 1 + 2 + 2, gaps  # lease + one wake + one period + scheduling slack


def ping(nodes: Cluster, name: str, *extra: str) -> int:
    command = [sys.executable, "-m", "flowyard", "worker", "--ping", "--name", name, *extra]
    return subprocess.run(command, check=False, env=nodes.env, capture_output=True, timeout=30).returncode


def scrape(nodes: Cluster, name: str) -> dict[str, float]:
    import httpx

    text = httpx.get(f"http://127.0.0.1:{nodes.ports[name]}/metrics", timeout=5).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def ticks(database_url: str, flow_id: int) -> list[datetime]:
    rows = db_rows(
        database_url,
        "SELECT scheduled_at FROM flow_instances WHERE flow_id = %s AND scheduled_at IS NOT NULL ORDER BY 1",
        flow_id,
    )
    return [r[0] for r in rows]
