"""List Flow Instances latency with 1,000,000 instances stored, on SQLite (the default) or PostgreSQL.

Fills a fresh database with N flow instances (bulk inserts straight into the
tables, spread over 50 flows, 3 types, 5 statuses and a year of trigger
times), then calls the API in-process (no network) with typical filters and
reports p50/p95/max per query shape. ``count`` is the total number of matches.

On PostgreSQL the fill is a COPY with the schema's indexes and foreign keys in
place, followed by ``VACUUM (ANALYZE)``; ``--explain`` then prints
``EXPLAIN (ANALYZE, BUFFERS)`` of the SQL each shape sends.

Run::

    .venv/bin/python bench/bench_list.py [--instances 1000000] [--calls 200]
    .venv/bin/python bench/bench_list.py --postgres [SERVER_URL] [--explain]
    .venv/bin/python bench/bench_list.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/EMPTY_DB

``--postgres`` creates a scratch database ``flowyard_bench_<random>`` on the
server (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) and
drops it at the end; ``--database-url`` must name an empty database.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from _pg import DEFAULT_SERVER, captured_sql, copy_rows, explain, scratch_database, vacuum_analyze
from sqlalchemy import Table
from starlette.testclient import TestClient

from flowyard.roles.embedded import create_app
from flowyard.settings import Settings
from flowyard.store import models as m
from flowyard.store.db import make_session_factory

PREFIX = "/batch-processing-service/v2.1"
START = datetime(2025, 1, 1, tzinfo=UTC)


def instance_rows(org_id: str, flow_ids: list[int], snapshot_id: str, total: int) -> Iterator[dict[str, Any]]:
    """The same ``total`` rows on every backend (fixed seed); ``flow_ids[k]`` is the flow ``bench-<k>``."""
    rng = random.Random(7)
    statuses = [1, 1, 1, -1, 8]
    for i in range(total):
        k = i % len(flow_ids)
        flow_id = flow_ids[k]
        trigger = START + timedelta(seconds=rng.randrange(365 * 86400))
        yield {
            "id": f"{flow_id}-b{i:09d}",
            "flow_id": flow_id,
            "org_id": org_id,
            # The imported flow's real name, so the expression shape ("bench-17") finds its instances.
            "flow_name": f"bench-{k}",
            "type": i % 3,
            "trigger_kind": "manual",
            "status": statuses[i % len(statuses)],
            "trigger_at": trigger,
            "scheduled_at": None,
            "cal_dt": (trigger - timedelta(days=1)).date(),
            "created_at": trigger,
            "started_at": trigger,
            "ended_at": trigger + timedelta(seconds=5),
            "updated_at": trigger + timedelta(seconds=5),
            "parameters": "[]",
            "snapshot_id": snapshot_id,
            "owners": "admin",
            "creator": "admin",
            "from_task_id": None,
            "cancelled": False,
            "message": "",
        }


def fill(app: Any, org_id: str, flow_ids: list[int], total: int) -> None:
    engine = app.state.engine
    table = cast(Table, m.FlowInstance.__table__)
    sessions = make_session_factory(engine)
    with sessions() as session:
        snapshot = session.execute(table.select().where(m.FlowInstance.flow_id == flow_ids[0])).first()
    assert snapshot is not None, "needs one real instance to share its snapshot"
    rows = instance_rows(org_id, flow_ids, snapshot.snapshot_id, total)
    if engine.dialect.name == "postgresql":
        copy_rows(engine, table, rows, report_every=50_000)
        started = time.perf_counter()
        vacuum_analyze(engine, table)
        print(f"  VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")
        return
    batch = 20_000
    for start in range(0, total, batch):
        # One short transaction per batch: the server's own background threads (job leases, token
        # purges) keep getting the write lock within SQLite's busy timeout meanwhile.
        with engine.begin() as conn:
            conn.execute(table.insert(), [next(rows) for _ in range(min(batch, total - start))])
        print(f"  inserted {min(start + batch, total):>9,}", end="\r", flush=True)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200)
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--database-url",
        help="an EMPTY database to fill (default: a SQLite file in a fresh temporary directory)",
    )
    target.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_SERVER,
        metavar="SERVER_URL",
        help=f"create and drop a scratch database on this PostgreSQL server (default {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--explain", action="store_true", help="PostgreSQL: print EXPLAIN ANALYZE of each shape's SQL"
    )
    args = parser.parse_args()
    scratch = scratch_database(args.postgres) if args.postgres else nullcontext(args.database_url)
    with scratch as database_url:
        run(args, database_url)


def run(args: argparse.Namespace, database_url: str | None) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="flowyard-bench-list-"))
    app = create_app(Settings(data_dir=data_dir, database_url=database_url, auth=False, scheduler=False))
    engine = app.state.engine
    print(f"database: {engine.url.render_as_string(hide_password=True)}")
    if app.state.credentials is None:
        raise SystemExit("the database is not empty: the benchmark needs a fresh one to fill")
    creds = json.loads((data_dir / "credentials.json").read_text())
    query = {"userId": creds["userId"], "orgId": creds["orgId"]}
    with TestClient(app) as client:

        def call(action: str, body: Any = None, method: str = "POST", **extra: Any) -> Any:
            response = client.request(
                method,
                f"{PREFIX}/{extra.pop('resource', 'flowInstances')}",
                params={**query, "action": action, **extra},
                json=body,
            )
            data = response.json()
            assert data["code"] == 0, data
            return data["data"]

        root = call("listWorkFlowDirs", method="GET", resource="directories")[0]["key"]
        flow_json = {"cycle": "D", "cron": "0 0 0 * * ? *", "tasks": [{"name": "t", "cmd": "true"}]}
        flow_ids = [
            call(
                "import", {"flowName": f"bench-{i}", "dirId": root, "flowJson": flow_json}, resource="flows"
            )["flowId"]
            for i in range(50)
        ]
        call(
            "trigger", {"flowId": flow_ids[0], "triggerTime": int(START.timestamp() * 1000)}, resource="flows"
        )
        started = time.perf_counter()
        fill(app, creds["orgId"], flow_ids, args.instances)
        print(f"filled {args.instances:,} instances in {time.perf_counter() - started:.1f} s")
        # EnOS requires fromTriggerTime and toTriggerTime, so every shape has a window.
        mid = int((START + timedelta(days=180)).timestamp() * 1000)
        day, week, month = 86_400_000, 7 * 86_400_000, 30 * 86_400_000
        page = {"pageNo": 3, "pageSize": 10}
        by_start = {"pageNo": 1, "pageSize": 10, "sorters": [{"field": "startTime", "order": "DESC"}]}
        shapes: dict[str, dict[str, Any]] = {
            "1 day, type": {"type": 0, "fromTriggerTime": mid, "toTriggerTime": mid + day},
            "1 week, type, page 3": {
                "type": 1,
                "fromTriggerTime": mid,
                "toTriggerTime": mid + week,
                "pagination": page,
            },
            "30 days, status 1": {
                "type": 1,
                "fromTriggerTime": mid,
                "toTriggerTime": mid + month,
                "status": "1",
            },
            "30 days, status -1,8, sort startTime": {
                "type": 2,
                "fromTriggerTime": mid,
                "toTriggerTime": mid + month,
                "status": "-1,8",
                "pagination": by_start,
            },
            "1 week, expression": {
                "type": 0,
                "fromTriggerTime": mid,
                "toTriggerTime": mid + week,
                "expression": "bench-17",
            },
        }
        for label, body in shapes.items():
            samples = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                data = call("search", body)
                samples.append((time.perf_counter() - t0) * 1000)
            samples.sort()
            p95 = samples[int(len(samples) * 0.95) - 1]
            print(
                f"{label:<36} p50 {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms   "
                f"max {samples[-1]:7.1f} ms   count {data['count']:,}",
                flush=True,
            )
        if args.explain and engine.dialect.name == "postgresql":
            for label, body in shapes.items():
                with captured_sql(engine) as statements:
                    call("search", body)
                relevant = [(text, params) for text, params in statements if "flow_instances" in text]
                print(f"\n=== {label} ===")
                for plan in explain(engine, relevant):
                    print(plan, end="\n\n")


if __name__ == "__main__":
    main()
