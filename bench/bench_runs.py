"""Trigger-to-SUCCESS wall time on the embedded default (SQLite, scheduler and local executor in one process).

Starts a real ``flowyard server --no-auth`` on a fresh data directory and
drives it over HTTP with the Python client:

* a chain of 100 ``true`` tasks;
* one task fanning out to 200 ``true`` tasks joined by one (parallelism 8:
  runMode cpu 0.5 against the default capacity of 2 x cores = 4 on 2 cores);
* 50 one-task flows triggered at once.

The time runs from the first trigger call until the last instance reports
SUCCESS, polled every 100 ms with List Flow Instances (so the numbers include
up to 100 ms of polling granularity; the rows carry no task graph, so the
polling costs the server the same for a 1000-task flow as for a small one). Embedded runs
also print the server process's CPU time per scenario (its own and its reaped
tasks'), which stays comparable when the machine is busy with other work.

``--cluster redis`` (or ``amqp``) runs the same scenarios on a scaled-out
deployment instead: ``flowyard api --no-auth``, one ``flowyard scheduler`` and
two ``flowyard worker --concurrency 4`` on a scratch PostgreSQL database, with
the Celery executor over that broker (see ``bench/_cluster.py``). Parallelism
is again 8: two workers of 4 slots. After each scenario it prints where the
time went, read from the attempt rows the processes wrote.
Run: ``.venv/bin/python bench/bench_runs.py [--repeat 3] [--cluster [redis|amqp]]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _cluster import BROKERS, Cluster, breakdown, free_port, print_breakdown, running_cluster

from flowyard.client import FlowyardClient

POLL = 0.1


def task(name: str) -> dict[str, Any]:
    run_mode = {"taskMode": 1, "cpu": 0.5, "memory": 1, "maxParallel": 0, "keyType": 0}
    return {"name": name, "type": "COMMAND", "cmd": "true", "runMode": json.dumps(run_mode)}


def chain(n: int) -> dict[str, Any]:
    names = [f"t{i}" for i in range(n)]
    return {
        "cycle": "D",
        "cron": "0 0 0 * * ? *",
        "tasks": [task(x) for x in names],
        "relations": [{"sourceTaskName": a, "targetTaskName": b} for a, b in itertools.pairwise(names)],
    }


def fan(n: int) -> dict[str, Any]:
    middle = [f"m{i}" for i in range(n)]
    relations = [{"sourceTaskName": "start", "targetTaskName": x} for x in middle]
    relations += [{"sourceTaskName": x, "targetTaskName": "join"} for x in middle]
    return {
        "cycle": "D",
        "cron": "0 0 0 * * ? *",
        "tasks": [task("start"), *(task(x) for x in middle), task("join")],
        "relations": relations,
    }


def wait_success(client: FlowyardClient, instance_ids: list[str], around_ms: int) -> None:
    """Poll until every instance succeeded, with one List Flow Instances call per poll: its rows
    carry no task graph, so polling a 1000-task instance costs the server as little as a small one."""
    pending = set(instance_ids)
    hour = 3_600_000
    while pending:
        page = client.list_flow_instances(
            flow_type=0,
            from_trigger_time_ms=around_ms - hour,
            to_trigger_time_ms=around_ms + hour,
            page_size=1000,
        )
        for row in page["flowInsts"]:
            instance_id, status = row["instanceId"], row["status"]
            if instance_id not in pending:
                continue
            if status == 1:
                pending.discard(instance_id)
            elif status in (-1, 8, 4, 7):
                raise RuntimeError(f"{instance_id} ended with status {status}")
        if pending:
            time.sleep(POLL)


def measure(client: FlowyardClient, flow_ids: list[int]) -> tuple[float, list[str]]:
    now = client.get_current_time()
    start = time.perf_counter()
    instances = [client.trigger_flow(flow_id, now) for flow_id in flow_ids]
    wait_success(client, instances, now)
    return time.perf_counter() - start, instances


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` and its reaped children have used: a figure that, unlike
    wall time, hardly moves when other work shares the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def embedded_server() -> Iterator[tuple[FlowyardClient, int]]:
    data_dir = Path(tempfile.mkdtemp(prefix="flowyard-bench-"))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowyard",
            "server",
            "--no-auth",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, FLOWYARD_HOME=str(data_dir)),
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        creds = json.loads((data_dir / "credentials.json").read_text())
        with FlowyardClient(creds["url"], creds["orgId"], creds["userId"], timeout=60) as client:
            yield client, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@contextmanager
def cluster_client(cluster: Cluster) -> Iterator[FlowyardClient]:
    with FlowyardClient.from_credentials(
        cluster.root / "api" / "credentials.json", url=cluster.api_url, timeout=60
    ) as client:
        yield client


def run_scenarios(
    client: FlowyardClient,
    repeat: int,
    explain: Callable[[list[str]], None] | None = None,
    cpu: Callable[[], float] | None = None,
    scaling: bool = False,
) -> None:
    root = client.list_directories()[0]["key"]
    serial = iter(range(10**6))

    def new_flows(definition: dict[str, Any], count: int) -> list[int]:
        return [
            client.import_flow(definition, flow_name=f"bench-{next(serial)}", dir_id=root)
            for _ in range(count)
        ]

    scenarios: list[tuple[str, Callable[[], list[int]], float]] = [
        ("chain of 100 true tasks", lambda: new_flows(chain(100), 1), 2.0),
        ("fan-out 1 -> 200 -> 1, parallelism 8", lambda: new_flows(fan(200), 1), 3.0),
        ("50 one-task flows at once", lambda: new_flows(chain(1), 50), 3.0),
    ]
    if scaling:  # how the time grows with the flow: linear work per step keeps these proportional
        scenarios = [
            *scenarios[:1],
            ("chain of 400 true tasks", lambda: new_flows(chain(400), 1), 8.0),
            ("chain of 1000 true tasks", lambda: new_flows(chain(1000), 1), 20.0),
            scenarios[1],
            ("fan-out 1 -> 1000 -> 1, parallelism 8", lambda: new_flows(fan(1000), 1), 15.0),
        ]
    for label, make, target in scenarios:
        # A new flow each round: the 1-minute repeat rule forbids re-triggering one.
        runs, cpus = [], []
        for _ in range(repeat):
            flows = make()
            before = cpu() if cpu else 0.0
            runs.append(measure(client, flows))
            cpus.append((cpu() - before) if cpu else 0.0)
        times = [t for t, _ in runs]
        server_cpu = f"   server CPU median {statistics.median(cpus):5.2f} s" if cpu else ""
        print(
            f"{label:<40} median {statistics.median(times):6.2f} s   best {min(times):6.2f} s"
            f"   (target < {target:.0f} s, n={len(times)})   runs: {', '.join(f'{t:.2f}' for t in times)}"
            f"{server_cpu}",
            flush=True,
        )
        if explain is not None:
            explain([i for _, instances in runs for i in instances])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--scaling", action="store_true", help="chains of 100, 400, 1000 and fan-outs of 200, 1000 instead"
    )
    parser.add_argument(
        "--cluster",
        nargs="?",
        const="redis",
        choices=sorted(BROKERS),
        help="run on api + scheduler + 2 Celery workers on PostgreSQL, over this broker (default redis)",
    )
    args = parser.parse_args()
    if args.cluster is None:
        with embedded_server() as (client, pid):
            run_scenarios(client, args.repeat, cpu=lambda: process_cpu(pid), scaling=args.scaling)
        return
    with (
        running_cluster(args.cluster, workers=2, concurrency=4) as cluster,
        cluster_client(cluster) as client,
    ):
        database_url = cluster.database_url
        run_scenarios(
            client,
            args.repeat,
            lambda instances: print_breakdown(breakdown(database_url, instances)),
            scaling=args.scaling,
        )


if __name__ == "__main__":
    main()
