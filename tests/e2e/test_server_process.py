"""The real thing: `flowyard server` as a separate process, driven by the signed Python client."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowyard.client import AuthError, FlowyardClient, InvalidParameterError
from tests.conftest import create_pg_database, drop_pg_database, postgres_unavailable

pytestmark = pytest.mark.e2e
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, FLOWYARD_HOME=str(data_dir))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowyard",
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def wait_healthy(proc: subprocess.Popen[str], port: int) -> None:
    """Poll the health endpoint until it answers; fail fast if the process dies."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start in time")


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    return proc.returncode, out


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    port = free_port()
    proc = start_server(tmp_path, port)
    try:
        wait_healthy(proc, port)
        yield proc, port, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_first_start_writes_private_credentials_and_serves_signed_requests(
    server: tuple[subprocess.Popen[str], int, Path],
) -> None:
    proc, port, data_dir = server
    creds_path = data_dir / "credentials.json"
    assert creds_path.stat().st_mode & 0o777 == 0o600
    creds = json.loads(creds_path.read_text())
    assert set(creds) >= {"url", "orgId", "userId", "username", "accessKey", "secretKey"}
    assert creds["url"] == f"http://127.0.0.1:{port}"
    with FlowyardClient.from_credentials(creds_path) as client:
        root = client.list_directories()[0]["key"]
        flow_json = json.loads(
            (
                Path(__file__).resolve().parents[3]
                / "shared/examples/enos/seed_001_export_flow_response.json"
            ).read_text()
        )["data"]
        flow_id = client.import_flow(flow_json, flow_name="nFlow", dir_id=root)
        assert client.export_flow(flow_id) == flow_json
        with pytest.raises(InvalidParameterError, match="Flow name must be unique"):
            client.import_flow(flow_json, flow_name="nFlow", dir_id=root)
    # A client with a wrong secret is refused by the real server.
    with (
        FlowyardClient(
            creds["url"], creds["orgId"], creds["userId"], creds["accessKey"], "not-the-secret"
        ) as bad,
        pytest.raises(AuthError),
    ):
        bad.list_directories()
    code, out = stop(proc)
    assert code == 0, out
    assert str(creds_path) in out


def test_second_server_on_the_same_file_is_refused_and_data_survives(
    server: tuple[subprocess.Popen[str], int, Path],
) -> None:
    proc, _, data_dir = server
    second = start_server(data_dir, free_port())
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 7, out
    assert "another Flowyard server is already using" in out
    creds_path = data_dir / "credentials.json"
    with FlowyardClient.from_credentials(creds_path) as client:
        root = client.list_directories()[0]["key"]
        client.create_directory(root, "still-works")
    code, _ = stop(proc, signal.SIGINT)
    assert code == 0
    with sqlite3.connect(data_dir / "flowyard.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM directories WHERE name = 'still-works'").fetchone()[0] == 1
    # Restart on the same data: no second bootstrap, the same credentials keep working.
    port2 = free_port()
    again = start_server(data_dir, port2)
    try:
        wait_healthy(again, port2)
        with sqlite3.connect(data_dir / "flowyard.db") as db:
            assert db.execute("SELECT count(*) FROM organizations").fetchone()[0] == 1
    finally:
        assert stop(again)[0] == 0


@pytest.mark.postgres
def test_server_on_postgresql(tmp_path: Path) -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    url, name = create_pg_database()
    port = free_port()
    proc = start_server(tmp_path, port, "--database-url", url)
    try:
        wait_healthy(proc, port)
        with FlowyardClient.from_credentials(tmp_path / "credentials.json") as client:
            root = client.list_directories()[0]["key"]
            assert len(client.create_directory(root, "pg")) == 32
        assert stop(proc)[0] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drop_pg_database(name)


def test_no_auth_mode_is_loud(tmp_path: Path) -> None:
    port = free_port()
    proc = start_server(tmp_path, port, "--no-auth")
    try:
        wait_healthy(proc, port)
        creds = json.loads((tmp_path / "credentials.json").read_text())
        with FlowyardClient(creds["url"], creds["orgId"], creds["userId"]) as client:
            assert client.get_time_zone().startswith("GMT")
    finally:
        code, out = stop(proc)
    assert code == 0
    assert "authentication is OFF" in out


def test_cli_trigger_wait_and_logs_against_a_real_server(
    server: tuple[subprocess.Popen[str], int, Path],
) -> None:
    _, _, data_dir = server
    creds_path = data_dir / "credentials.json"
    with FlowyardClient.from_credentials(creds_path) as client:
        root = client.list_directories()[0]["key"]
        good = client.import_flow(
            {"cycle": "D", "cron": "0 0 0 * * ? *", "tasks": [{"name": "hello", "cmd": "echo hi ${WHO}"}]},
            flow_name="cli-good",
            dir_id=root,
        )
        bad = client.import_flow(
            {"cycle": "D", "cron": "0 0 0 * * ? *", "tasks": [{"name": "boom", "cmd": "exit 4"}]},
            flow_name="cli-bad",
            dir_id=root,
        )
    env = dict(os.environ, FLOWYARD_HOME=str(data_dir))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flowyard", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    ok = cli("trigger", str(good), "--param", "WHO=there", "--wait", "--poll-interval", "0.1")
    assert ok.returncode == 0, ok.stderr
    instance_id = ok.stdout.strip()
    assert instance_id.startswith(f"{good}-")
    assert "SUCCESS" in ok.stderr
    failed = cli("trigger", str(bad), "--wait", "--poll-interval", "0.1")
    assert failed.returncode == 1, failed.stderr
    shown = cli("instances", "get", instance_id, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["statusDesc"] == "SUCCESS"
    task_inst = json.loads(json.loads(shown.stdout)["graph"])["tasks"][0]["taskInstId"]
    logs = cli("logs", task_inst)
    assert logs.returncode == 0 and "hi there" in logs.stdout
    listed = cli("instances", "list", "--json")
    assert listed.returncode == 0, listed.stderr
