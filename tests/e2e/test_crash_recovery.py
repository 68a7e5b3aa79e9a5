"""kill -9 the server while tasks run, start it again: nothing runs twice, every instance ends right, ticks go on.

Tasks outlive the killed server under its launcher, which records how each one
ended beside its log: an attempt that ended during the downtime is settled with
its real result at the restart; one still running then is killed and retried
(or failed) as interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from flowyard.client import FlowyardClient
from tests.e2e.test_server_process import free_port, start_server, stop, wait_healthy

pytestmark = pytest.mark.e2e
FINAL = {1, -1, 8, 10, 7, 4}


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def task_status(client: FlowyardClient, instance_id: str) -> dict[str, str]:
    graph = json.loads(client.get_flow_instance(instance_id)["graph"])
    return {t["taskName"]: t["status"] for t in graph["tasks"]}


def task_instance(client: FlowyardClient, instance_id: str, name: str) -> str:
    graph = json.loads(client.get_flow_instance(instance_id)["graph"])
    return str(next(t["taskInstId"] for t in graph["tasks"] if t["taskName"] == name))


def processes_of(attempt_prefix: str, root: Path) -> list[int]:
    """Task processes of attempts starting with ``attempt_prefix`` whose work directory is under ``root``
    (attempt ids repeat across the fresh databases of tests running side by side)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cwd = (entry / "cwd").resolve().as_posix()
        except OSError:
            continue
        if f"FLOWYARD_ATTEMPT_ID={attempt_prefix}".encode() in environ and cwd.startswith(str(root)):
            found.append(int(entry.name))
    return found


def ticks_of(client: FlowyardClient) -> dict[str, Any]:
    return client.list_flow_instances(
        flow_type=1, from_trigger_time_ms=0, to_trigger_time_ms=4102444800000, page_size=1000
    )


def flow(name: str, cmd: str, **task: Any) -> dict[str, Any]:
    return {
        "name": name,
        "cycle": "D",
        "cron": "0 0 0 * * ? *",
        "type": 0,
        "tasks": [{"name": "t", "type": "COMMAND", "cmd": cmd, **task}],
    }


def test_kill_minus_nine_then_restart(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, port)
    restarted = None
    try:
        wait_healthy(server, port)
        creds = tmp_path / "credentials.json"
        with FlowyardClient.from_credentials(creds) as client:
            root = client.list_directories()[0]["key"]
            # Its first attempt outlives the restart, so it is interrupted; the retry ends at once.
            first = tmp_path / "retried-once"
            command = f"if [ -e {first} ]; then echo finished; else touch {first}; sleep 60; fi"
            retried = client.import_flow(
                flow("retried", command, retryLimit=1), flow_name="retried", dir_id=root
            )
            doomed = client.import_flow(flow("doomed", "sleep 60"), flow_name="doomed", dir_id=root)
            ticking = client.import_flow(
                dict(flow("ticking", "true"), type=1, cron="*/2 * * * * ?"), flow_name="ticking", dir_id=root
            )
            client.enable_flow(ticking)
            wait_for("two ticks", lambda: ticks_of(client)["count"] >= 2, timeout=15)
            now_ms = client.get_current_time()
            a = client.trigger_flow(retried, now_ms)
            b = client.trigger_flow(doomed, now_ms)
            for inst in (a, b):
                wait_for("tasks to run", lambda inst=inst: task_status(client, inst)["t"] == "RUNNING")
                name = task_instance(client, inst, "t")
                wait_for("its process to start", lambda name=name: processes_of(name, tmp_path))
            doomed_task = task_instance(client, b, "t")
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        orphans = processes_of(doomed_task, tmp_path)
        assert orphans, "the task process should have outlived the killed server"

        restarted = start_server(tmp_path, port)
        wait_healthy(restarted, port)
        with FlowyardClient.from_credentials(creds) as client:
            done_a = wait_for(
                "retried to end", lambda: (i := client.get_flow_instance(a))["status"] in FINAL and i
            )
            done_b = wait_for(
                "doomed to end", lambda: (i := client.get_flow_instance(b))["status"] in FINAL and i
            )
            assert done_a["statusDesc"] == "SUCCESS"
            assert done_b["statusDesc"] == "FAIL"
            log_a = client.get_task_instance_log(task_instance(client, a, "t"))
            assert log_a.count("run  num:\t1") == 1 and log_a.count("run  num:\t2") == 1
            assert log_a.rstrip().endswith("finished")
            log_b = client.get_task_instance_log(doomed_task)
            assert "interrupted: the Flowyard server stopped while it ran" in log_b
            assert client.get_task_instance(doomed_task)["stsDesc"] == "FAIL"
            assert processes_of(doomed_task, tmp_path) == []  # the orphan was killed, not left running
            before = ticks_of(client)
            wait_for(
                "new ticks after the restart",
                lambda: ticks_of(client)["count"] >= before["count"] + 2,
                timeout=15,
            )
            ticks = ticks_of(client)["flowInsts"]
            ids = [t["instanceId"] for t in ticks]
            trigger_times = [t["triggerTime"] for t in ticks]
            assert len(set(ids)) == len(ids) and len(set(trigger_times)) == len(trigger_times)
            client.disable_flow(ticking)
        code, out = stop(restarted)
        assert code == 0, out
    finally:
        for proc in (server, restarted):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for pid in processes_of("", tmp_path):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def many(name: str, commands: dict[str, str], **task: Any) -> dict[str, Any]:
    run_mode = json.dumps({"taskMode": 1, "cpu": 0.1, "memory": 1, "maxParallel": 0, "keyType": 0})
    return {
        "name": name,
        "cycle": "D",
        "cron": "0 0 0 * * ? *",
        "type": 0,
        "tasks": [
            {"name": n, "type": "COMMAND", "cmd": c, "runMode": run_mode, **task} for n, c in commands.items()
        ],
    }


def test_tasks_that_end_while_the_server_is_down_run_once_with_their_real_results(tmp_path: Path) -> None:
    marks = tmp_path / "marks"

    def command(name: str, code: int) -> str:
        return f"echo start {name} >> {marks}; sleep 2; echo end {name} >> {marks}; exit {code}"

    # With retries left, an attempt settled as interrupted would run again; here each must run once.
    passing = {f"p{n}": command(f"p{n}", 0) for n in range(10)}
    mixed = {f"m{n}": command(f"m{n}", n % 2) for n in range(10)}  # the odd ones exit 1, no retries
    port = free_port()
    server = start_server(tmp_path, port)
    restarted = None
    try:
        wait_healthy(server, port)
        creds = tmp_path / "credentials.json"
        with FlowyardClient.from_credentials(creds) as client:
            root = client.list_directories()[0]["key"]
            ids = [
                client.import_flow(many("passing", passing, retryLimit=2), flow_name="passing", dir_id=root),
                client.import_flow(many("mixed", mixed), flow_name="mixed", dir_id=root),
            ]
            now_ms = client.get_current_time()
            instances = [client.trigger_flow(flow_id, now_ms) for flow_id in ids]

            def started() -> bool:
                return marks.exists() and marks.read_text().count("start") == 20

            wait_for("20 tasks to start", started)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        wait_for("the tasks to end without the server", lambda: marks.read_text().count("end") == 20)
        wait_for("their processes to be gone", lambda: processes_of("", tmp_path) == [])

        restarted = start_server(tmp_path, port)
        wait_healthy(restarted, port)
        with FlowyardClient.from_credentials(creds) as client:
            done = [
                wait_for(
                    "the instance to end",
                    lambda i=i: (r := client.get_flow_instance(i))["status"] in FINAL and r,
                )
                for i in instances
            ]
            assert [d["statusDesc"] for d in done] == ["SUCCESS", "FAIL"]
            statuses = {**task_status(client, instances[0]), **task_status(client, instances[1])}
            expected = {name: "SUCCESS" for name in passing}
            expected |= {name: ("FAIL" if int(name[1:]) % 2 else "SUCCESS") for name in mixed}
            assert statuses == expected
            for instance, names in ((instances[0], passing), (instances[1], mixed)):
                for name in names:
                    log = client.get_task_instance_log(task_instance(client, instance, name))
                    assert log.count("run  num:\t") == 1, log  # one attempt each
                    assert "ended while the server was not watching; from its exit record: exit code" in log
        lines = marks.read_text().splitlines()
        assert sorted(lines) == sorted([f"start {n}" for n in expected] + [f"end {n}" for n in expected])
        code, out = stop(restarted)
        assert code == 0, out
    finally:
        for proc in (server, restarted):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for pid in processes_of("", tmp_path):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
