"""The designer with a 500-task flow: load-to-interactive in headless Chromium.

Starts ``flowyard server`` on a scratch data directory, imports a flow of N tasks (layers of 10,
each task depending on two of the previous layer, so about 2N relations) with no stored positions,
signs in as admin and opens the designer. For each run it measures, from ``page.goto``:

- ``visible``: the first task node is on the canvas (Get Flow + Export Flow + dagre layout + render);
- ``interactive``: a click on a task opens its side panel (the page answers input).

and prints p50/max over the runs. Target (issue 13): interactive under 2 s on a 2-core machine.

Run::

    .venv/bin/python bench/bench_designer.py [--tasks 500] [--runs 5] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def big_flow(tasks: int) -> dict[str, Any]:
    run_mode = json.dumps(
        {"taskMode": 1, "cpu": 0.5, "memory": 1, "maxParallel": 0, "keyType": 0}
        | {"datasourceId": 0, "path": "", "content": ""}
    )
    definition: dict[str, Any] = {
        "name": "big",
        "cycle": "D",
        "cron": "0 0 2 * * ? *",
        "parameters": "[]",
        "alertMode": 0,
        "submitter": "",
        "owners": "admin",
        "visitors": "",
        "type": 0,
        "syncType": 1,
        "desc": "",
        "startTime": "",
        "tasks": [
            {
                "name": f"task_{i:04d}",
                "resource": "default",
                "type": "COMMAND",
                "syncType": 1,
                "cmd": f"echo {i}",
                "submitter": "",
                "filePackage": "",
                "cron": "",
                "priorityLevel": 0,
                "timeout": 0,
                "retryLimit": 0,
                "retryInterval": 0,
                "successCode": "0",
                "asLink": False,
                "runMode": run_mode,
            }
            for i in range(tasks)
        ],
        "flowLinks": [],
        "taskLinks": [],
        "relations": [],
        "linkRelations": [],
    }
    width = 10
    for i in range(width, tasks):
        layer_start = (i // width - 1) * width
        for upstream in {layer_start + i % width, layer_start + (i + 3) % width}:
            definition["relations"].append(
                {"sourceTaskName": f"task_{upstream:04d}", "targetTaskName": f"task_{i:04d}", "rerun": True}
            )
    return definition


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default=os.environ.get("FLOWYARD_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from flowyard.client import FlowyardClient

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch)
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowyard", "server", "--port", str(port), "--data-dir", scratch],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, FLOWYARD_HOME=scratch),
        )
        try:
            wait_port(port, proc)
            creds = json.loads((data_dir / "credentials.json").read_text())
            with FlowyardClient.from_credentials(data_dir / "credentials.json") as client:
                root = client.list_directories()[0]["key"]
                flow_id = client.import_flow(big_flow(args.tasks), flow_name="big", dir_id=root)
            visible: list[float] = []
            interactive: list[float] = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                context = browser.new_context(
                    base_url=f"http://127.0.0.1:{port}", viewport={"width": 1400, "height": 900}
                )
                page = context.new_page()
                page.goto("/")
                page.get_by_label("Username").fill("admin")
                page.get_by_label("Password").fill(creds["password"])
                page.get_by_role("button", name="Sign in").click()
                page.get_by_test_id("user").wait_for()
                for _ in range(args.runs):
                    page.goto("/ui/flows")
                    page.get_by_role("heading").first.wait_for()
                    start = time.perf_counter()
                    page.goto(f"/ui/flows/{flow_id}")
                    node = page.locator(".react-flow__node").first
                    node.wait_for(timeout=30_000)
                    visible.append(time.perf_counter() - start)
                    node.click()
                    page.get_by_label("Retries").wait_for(timeout=30_000)
                    interactive.append(time.perf_counter() - start)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    for name, values in (("visible", visible), ("interactive", interactive)):
        p50 = statistics.median(values)
        print(f"{name:12s} p50 {p50:.3f} s   max {max(values):.3f} s   ({args.tasks} tasks)")


if __name__ == "__main__":
    main()
