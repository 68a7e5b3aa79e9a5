"""``flowyard admin user passwd``: prompt or stdin, the argon2 hash stored, sessions ended."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from flowyard.cli.admin import admin_group
from flowyard.domain.passwords import verify_password
from flowyard.store import models
from flowyard.store.db import make_engine, make_session_factory
from tests.integration.test_cli_admin import run_json


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLOWYARD_DATABASE_URL", "FLOWYARD_DATA_DIR", "FLOWYARD_HOME"):
        monkeypatch.delenv(name, raising=False)


def stored_hash(data_dir: Path, user_id: str) -> str | None:
    engine = make_engine(f"sqlite:///{data_dir / 'flowyard.db'}")
    try:
        with make_session_factory(engine)() as session:
            return session.execute(
                select(models.UserPassword.hash).where(models.UserPassword.user_id == user_id)
            ).scalar_one_or_none()
    finally:
        engine.dispose()


def test_passwd_from_stdin_and_from_the_prompt(tmp_path: Path) -> None:
    org = run_json(tmp_path, "org", "create", "A")["id"]
    user = run_json(tmp_path, "user", "create", "alice", "--org", org)
    result = CliRunner().invoke(
        admin_group,
        ["user", "passwd", "alice", "--password-stdin", "--data-dir", str(tmp_path)],
        input="first password\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Set the password of user {user['id']} (alice)\n"
    assert verify_password(stored_hash(tmp_path, user["id"]), "first password")

    prompted = CliRunner().invoke(
        admin_group,
        ["user", "passwd", user["id"], "--data-dir", str(tmp_path)],
        input="second pw!\nsecond pw!\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert verify_password(stored_hash(tmp_path, user["id"]), "second pw!")
    assert not verify_password(stored_hash(tmp_path, user["id"]), "first password")


def test_passwd_refuses_short_passwords_and_unknown_users(tmp_path: Path) -> None:
    org = run_json(tmp_path, "org", "create", "A")["id"]
    run_json(tmp_path, "user", "create", "bob", "--org", org)
    short = CliRunner().invoke(
        admin_group,
        ["user", "passwd", "bob", "--password-stdin", "--data-dir", str(tmp_path)],
        input="short\n",
    )
    assert short.exit_code == 2
    assert "at least 8" in short.stderr
    unknown = CliRunner().invoke(
        admin_group,
        ["user", "passwd", "nobody", "--password-stdin", "--data-dir", str(tmp_path)],
        input="x" * 9,
    )
    assert unknown.exit_code == 2
    assert "User not found" in unknown.stderr
