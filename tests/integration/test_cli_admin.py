"""``flowyard admin`` through click's CliRunner, on a fresh SQLite database per test."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from flowyard.cli.admin import admin_group


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own FLOWYARD_* variables must not point the tests at a real database.
    for name in ("FLOWYARD_DATABASE_URL", "FLOWYARD_DATA_DIR", "FLOWYARD_HOME"):
        monkeypatch.delenv(name, raising=False)


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(admin_group, [*args, "--data-dir", str(data_dir)])


def run_json(data_dir: Path, *args: str) -> Any:
    result = run(data_dir, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_org_create_and_list(data_dir: Path) -> None:
    result = run(data_dir, "org", "create", "Plant A")
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"Created organization (o\d{14}) \(Plant A\)\n", result.stdout)
    assert match
    assert (data_dir / "flowyard.db").exists()
    assert run_json(data_dir, "org", "list") == [{"id": match.group(1), "name": "Plant A"}]
    listed = run(data_dir, "org", "list")
    assert listed.stdout == f"{match.group(1)}\tPlant A\n"


def test_user_create_lock_unlock_list(data_dir: Path) -> None:
    a = run_json(data_dir, "org", "create", "A")["id"]
    b = run_json(data_dir, "org", "create", "B")["id"]
    user = run_json(data_dir, "user", "create", "alice", "--org", a, "--org", b)
    assert re.fullmatch(r"u\d{14}", user["id"])
    assert user == {"id": user["id"], "username": "alice", "locked": False, "orgIds": sorted([a, b])}

    locked = run(data_dir, "user", "lock", "alice")
    assert locked.exit_code == 0, locked.output
    assert locked.stdout == f"Locked user {user['id']} (alice)\n"
    assert run_json(data_dir, "user", "list") == [{**user, "locked": True}]
    assert run_json(data_dir, "user", "unlock", user["id"])["locked"] is False
    assert run_json(data_dir, "user", "list", "--org", b) == [user]


def test_app_create_shows_the_secret_once_with_a_warning(data_dir: Path) -> None:
    org = run_json(data_dir, "org", "create", "A")["id"]
    result = run(data_dir, "app", "create", "--org", org, "--name", "etl")
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"accessKey: ([0-9a-f-]{36})\nsecretKey: ([A-Za-z0-9_-]{32,})\n", result.stdout)
    assert match
    assert result.stderr == "Warning: the secretKey is shown only once. Store it now.\n"

    listed = run_json(data_dir, "app", "list")
    assert listed == [{"accessKey": match.group(1), "orgId": org, "name": "etl"}]
    assert match.group(2) not in run(data_dir, "app", "list").stdout


def test_app_create_json(data_dir: Path) -> None:
    org = run_json(data_dir, "org", "create", "A")["id"]
    result = run(data_dir, "app", "create", "--org", org, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"accessKey", "secretKey", "orgId", "name"}
    assert document["name"] == "default"
    assert "shown only once" in result.stderr


def test_database_url_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'x.db'}"
    result = CliRunner().invoke(admin_group, ["org", "create", "A", "--database-url", url, "--json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere" / "x.db").exists()
    listed = CliRunner().invoke(admin_group, ["org", "list", "--database-url", url, "--json"])
    assert [org["name"] for org in json.loads(listed.stdout)] == ["A"]


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (("user", "create", "bob", "--org", "o00000000000000"), "Organization not found: o00000000000000", 2),
        (("user", "lock", "nobody"), "User not found: nobody", 2),
        (("user", "unlock", "nobody"), "User not found: nobody", 2),
        (("app", "create", "--org", "nope"), "Organization not found: nope", 2),
        (("org", "create", "  "), "param: name cannot be empty", 2),
        (("user", "list", "--org", "nope"), "Organization not found: nope", 2),
    ],
)
def test_errors_go_to_stderr_with_the_error_exit_code(
    data_dir: Path, args: tuple[str, ...], message: str, exit_code: int
) -> None:
    result = run(data_dir, *args)
    assert result.exit_code == exit_code
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""


def test_duplicate_username(data_dir: Path) -> None:
    org = run_json(data_dir, "org", "create", "A")["id"]
    run_json(data_dir, "user", "create", "alice", "--org", org)
    result = run(data_dir, "user", "create", "alice", "--org", org)
    assert result.exit_code == 2
    assert result.stderr == "Error: A user named alice already exists\n"


def test_user_create_requires_an_org(data_dir: Path) -> None:
    result = run(data_dir, "user", "create", "alice")
    assert result.exit_code == 2  # click's usage error
    assert "Missing option '--org'" in result.stderr


def test_unusable_data_dir_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(admin_group, ["org", "list", "--data-dir", str(blocker / "sub")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: I/O error: ")


def test_corrupt_database_is_reported(tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    database.write_bytes(b"this is not a SQLite database" * 100)
    result = CliRunner().invoke(admin_group, ["org", "list", "--database-url", f"sqlite:///{database}"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Database error: ")
    assert "file is not a database" in result.stderr
