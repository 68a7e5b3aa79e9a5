"""docs/deploy/cluster.sh, run as written: the multi-process recipe of docs/deploy.md really works."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from flowyard.client import FlowyardClient
from tests.conftest import create_pg_database, drop_pg_database, postgres_unavailable
from tests.e2e.test_crash_recovery import FINAL, flow, wait_for
from tests.e2e.test_scale_out import broker_unavailable, delete_queues
from tests.e2e.test_server_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
RECIPE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "cluster.sh"
BROKER = "redis://127.0.0.1:6379/0"


def test_the_cluster_recipe_runs_a_flow(tmp_path: Path) -> None:
    reason = postgres_unavailable() or broker_unavailable(6379)
    if reason:
        pytest.skip(reason)
    database_url, db_name = create_pg_database()
    prefix = f"flowyard-recipe-{uuid.uuid4().hex[:8]}."
    api_port = free_port()
    env = dict(
        os.environ,
        FLOWYARD_DATABASE_URL=database_url,
        FLOWYARD_BROKER_URL=BROKER,
        FLOWYARD_QUEUE_PREFIX=prefix,
        FLOWYARD_CLUSTER_DIR=str(tmp_path / "cluster"),
        FLOWYARD=f"{sys.executable} -m flowyard",
        API_PORT=str(api_port),
        SCHEDULER_PORTS=f"{free_port()} {free_port()}",
    )
    try:
        done = subprocess.run(
            ["bash", str(RECIPE)], check=False, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Flowyard cluster up" in done.stdout
        creds = tmp_path / "cluster" / "api" / "credentials.json"
        with FlowyardClient.from_credentials(creds) as client:
            root = client.list_directories()[0]["key"]
            flow_id = client.import_flow(
                flow("hello", "echo hello from $FLOWYARD_WORKER"), flow_name="hello", dir_id=root
            )
            instance = client.trigger_flow(flow_id, client.get_current_time())
            result = wait_for(
                "the flow", lambda: (r := client.get_flow_instance(instance))["status"] in FINAL and r, 60
            )
            assert result["statusDesc"] == "SUCCESS"
            (task,) = json.loads(result["graph"])["tasks"]
            log = client.get_task_instance_log(str(task["taskInstId"]))
            assert "hello from worker-" in log  # run by a worker, read through the API from the database

            # `flowyard logs --follow` shows a worker's output while the task runs, then its end.
            gate = tmp_path / "gate"
            slow = client.import_flow(
                flow(
                    "slow",
                    f"echo first-$((20+1)); while [ ! -e {gate} ]; do sleep 0.1; done; echo second-$((20+1))",
                ),
                flow_name="slow",
                dir_id=root,
            )
            instance = client.trigger_flow(slow, client.get_current_time())
            task_id = wait_for(
                "the slow task to run",
                lambda: next(
                    (
                        str(t["taskInstId"])
                        for t in json.loads(client.get_flow_instance(instance)["graph"])["tasks"]
                        if t["status"] == "RUNNING"
                    ),
                    None,
                ),
                30,
            )
            follower = subprocess.Popen(
                [sys.executable, "-m", "flowyard", "logs", task_id, "--follow", "--credentials", str(creds)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert follower.stdout is not None
            seen = ""
            while "first-21" not in seen:  # shipped by the worker's heartbeat while the task waits
                line = follower.stdout.readline()
                assert line, "the follower ended before the first line arrived"
                seen += line
            gate.touch()
            out, err = follower.communicate(timeout=60)
            assert follower.returncode == 0, err
            assert "second-21" in out and "finished: SUCCESS" in err
    finally:
        pids = tmp_path / "cluster" / "pids"
        if pids.exists():
            for line in pids.read_text().splitlines():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(line.split()[0]), signal.SIGTERM)
        delete_queues(BROKER, prefix)
        drop_pg_database(db_name)
