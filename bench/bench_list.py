"""List Flow Instances latency with 1,000,000 instances stored, on the embedded default (SQLite).

Fills a fresh database with N flow instances (bulk inserts straight into the
tables, spread over 50 flows, 3 types, 5 statuses and a year of trigger
times), then calls the API in-process (no network) with typical filters and
reports p50/p95/max per query shape. ``count`` is the total number of matches.
Run: ``.venv/bin/python bench/bench_list.py [--instances 1000000] [--calls 200]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from flowyard.api.app import create_app
from flowyard.settings import Settings
from flowyard.store import models as m
from flowyard.store.db import make_session_factory

PREFIX = "/batch-processing-service/v2.1"
START = datetime(2025, 1, 1, tzinfo=UTC)


def fill(app: Any, org_id: str, flow_ids: list[int], total: int) -> None:
    sessions = make_session_factory(app.state.engine)
    with sessions() as session:
        snapshot = session.execute(
            m.FlowInstance.__table__.select().where(m.FlowInstance.flow_id == flow_ids[0])
        ).first()
    assert snapshot is not None, "needs one real instance to share its snapshot"
    rng = random.Random(7)
    statuses = [1, 1, 1, -1, 8]
    batch = 20_000
    table = m.FlowInstance.__table__
    with app.state.engine.begin() as conn:
        for start in range(0, total, batch):
            rows = []
            for i in range(start, min(start + batch, total)):
                flow_id = flow_ids[i % len(flow_ids)]
                trigger = START + timedelta(seconds=rng.randrange(365 * 86400))
                rows.append(
                    {
                        "id": f"{flow_id}-b{i:09d}",
                        "flow_id": flow_id,
                        "org_id": org_id,
                        "flow_name": f"bench-{flow_id}",
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
                        "snapshot_id": snapshot.snapshot_id,
                        "owners": "admin",
                        "creator": "admin",
                        "from_task_id": None,
                        "cancelled": False,
                        "message": "",
                    }
                )
            conn.execute(table.insert(), rows)
            print(f"  inserted {min(start + batch, total):>9,}", end="\r", flush=True)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="flowyard-bench-list-"))
    app = create_app(Settings(data_dir=data_dir, auth=False, scheduler=False))
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


if __name__ == "__main__":
    main()
