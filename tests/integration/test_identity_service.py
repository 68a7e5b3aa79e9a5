"""IdentityService against a real SQLite file: organisations, users, apps, bootstrap."""

from __future__ import annotations

import json
import random
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from flowyard.credentials import Credentials
from flowyard.errors import InternalError, InvalidParameterError, InvalidUserError
from flowyard.services.identity import IdentityService, server_url
from flowyard.settings import Settings, load_settings
from flowyard.store import identity as store
from flowyard.store import models
from flowyard.store.db import make_engine, make_session_factory, transaction
from flowyard.store.migrate import upgrade

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def migrated_engine(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'flowyard.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = migrated_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def identity(engine: Engine) -> IdentityService:
    return IdentityService(make_session_factory(engine), rng=random.Random(1234))


def settings_for(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=db_url, **overrides)


def org_count(engine: Engine) -> int:
    with transaction(make_session_factory(engine)) as session:
        return session.scalar(select(func.count()).select_from(models.Organization)) or 0


# --- organisations, users, memberships -----------------------------------------


def test_create_and_list_orgs(identity: IdentityService) -> None:
    second = identity.create_org("Plant B", NOW + timedelta(seconds=1))
    first = identity.create_org(" Plant A ", NOW)
    assert first.name == "Plant A"
    assert first.id != second.id
    assert identity.list_orgs() == [first, second]  # oldest first


def test_create_org_rejects_blank_name(identity: IdentityService) -> None:
    with pytest.raises(InvalidParameterError, match=r"^param: name cannot be empty$"):
        identity.create_org("  ", NOW)


def test_create_user_in_several_orgs(identity: IdentityService) -> None:
    a = identity.create_org("A", NOW)
    b = identity.create_org("B", NOW)
    user = identity.create_user("alice", [a.id, b.id], NOW)
    assert user.username == "alice"
    assert not user.locked
    assert user.org_ids == {a.id, b.id}
    assert identity.get_user("alice") == user
    assert identity.get_user(user.id) == user
    assert identity.list_users() == [user]
    assert identity.list_users(a.id) == [user]


def test_create_user_needs_an_org(identity: IdentityService) -> None:
    with pytest.raises(InvalidParameterError, match=r"^A user must belong to at least one organization$"):
        identity.create_user("alice", [], NOW)


def test_create_user_in_unknown_org(identity: IdentityService) -> None:
    with pytest.raises(InvalidParameterError, match=r"^Organization not found: o00000000000000$"):
        identity.create_user("alice", ["o00000000000000"], NOW)
    assert identity.list_users() == []


def test_create_user_twice(identity: IdentityService) -> None:
    org = identity.create_org("A", NOW)
    identity.create_user("alice", [org.id], NOW)
    with pytest.raises(InvalidParameterError, match=r"^A user named alice already exists$"):
        identity.create_user("alice", [org.id], NOW)


def test_create_user_rejects_separator_in_username(identity: IdentityService) -> None:
    org = identity.create_org("A", NOW)
    with pytest.raises(InvalidParameterError, match=r"^Invalid parameter: username may not contain ';'$"):
        identity.create_user("a;b", [org.id], NOW)


def test_lock_and_unlock_by_id_or_username(identity: IdentityService) -> None:
    org = identity.create_org("A", NOW)
    user = identity.create_user("alice", [org.id], NOW)
    assert identity.set_user_locked("alice", True).locked
    assert identity.get_user(user.id).locked
    assert identity.set_user_locked(user.id, True).locked  # idempotent
    assert not identity.set_user_locked(user.id, False).locked
    assert not identity.get_user("alice").locked


def test_lock_unknown_user(identity: IdentityService) -> None:
    with pytest.raises(InvalidParameterError, match=r"^User not found: nobody$"):
        identity.set_user_locked("nobody", True)


def test_add_membership(identity: IdentityService) -> None:
    a = identity.create_org("A", NOW)
    b = identity.create_org("B", NOW)
    user = identity.create_user("alice", [a.id], NOW)
    assert identity.add_membership("alice", b.id).org_ids == {a.id, b.id}
    assert identity.add_membership(user.id, b.id).org_ids == {a.id, b.id}  # idempotent
    assert identity.get_user(user.id).org_ids == {a.id, b.id}
    with pytest.raises(InvalidParameterError, match=r"^Organization not found: nope$"):
        identity.add_membership("alice", "nope")
    with pytest.raises(InvalidParameterError, match=r"^User not found: bob$"):
        identity.add_membership("bob", a.id)


def test_check_user_in_org(identity: IdentityService) -> None:
    a = identity.create_org("A", NOW)
    b = identity.create_org("B", NOW)
    user = identity.create_user("alice", [a.id], NOW)
    assert identity.check_user_in_org(user.id, a.id) == user
    message = r"^userId does not exist, or it does not match to orgId\.$"
    with pytest.raises(InvalidUserError, match=message) as caught:
        identity.check_user_in_org(user.id, b.id)
    assert caught.value.code == 62101
    with pytest.raises(InvalidUserError, match=message):
        identity.check_user_in_org("u00000000000000", a.id)
    with pytest.raises(InvalidUserError, match=message):
        identity.check_user_in_org("alice", a.id)  # usernames are not user ids
    with pytest.raises(InvalidUserError, match=message):
        identity.check_user_in_org("", a.id)


def test_list_users_of_unknown_org(identity: IdentityService) -> None:
    with pytest.raises(InvalidParameterError, match=r"^Organization not found: nope$"):
        identity.list_users("nope")


def test_create_and_list_apps(identity: IdentityService) -> None:
    a = identity.create_org("A", NOW)
    b = identity.create_org("B", NOW)
    other = identity.create_app(b.id, "bi", NOW + timedelta(seconds=1))
    app = identity.create_app(a.id, "etl", NOW)
    assert app.org_id == a.id
    assert len(app.access_key) == 36
    assert len(app.secret_key) >= 32
    assert identity.list_apps() == [app, other]
    assert identity.list_apps(b.id) == [other]


def test_create_app_in_unknown_org(identity: IdentityService) -> None:
    with pytest.raises(InvalidParameterError, match=r"^Organization not found: nope$"):
        identity.create_app("nope", "etl", NOW)


def test_id_clash_is_retried_then_reported(engine: Engine) -> None:
    # The same seed twice yields the same ids: the second service must step past the first's id.
    first = IdentityService(make_session_factory(engine), rng=random.Random(5)).create_org("A", NOW)
    second = IdentityService(make_session_factory(engine), rng=random.Random(5)).create_org("B", NOW)
    assert first.id != second.id

    class Constant(random.Random):
        def randrange(self, *args: object, **kwargs: object) -> int:
            return 10**13

    stuck = IdentityService(make_session_factory(engine), rng=Constant())
    stuck.create_org("C", NOW)
    with pytest.raises(InternalError, match=r"^Could not allocate a unique id; try again$"):
        stuck.create_org("D", NOW)


# --- bootstrap -------------------------------------------------------------------


def test_bootstrap_on_empty_database(identity: IdentityService, tmp_path: Path, db_url: str) -> None:
    settings = settings_for(tmp_path, db_url, host="0.0.0.0", port=9000)
    credentials = identity.bootstrap(settings, NOW)
    assert credentials is not None
    assert credentials.url == "http://127.0.0.1:9000"
    assert credentials.username == "admin"

    path = settings.credentials_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert set(document) == {"url", "orgId", "userId", "username", "accessKey", "secretKey", "projectId"}
    assert Credentials.load(path) == credentials
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind

    [org] = identity.list_orgs()
    assert org.id == credentials.org_id
    admin = identity.check_user_in_org(credentials.user_id, credentials.org_id)
    assert admin.username == "admin"
    [app] = identity.list_apps()
    assert (app.access_key, app.secret_key, app.org_id) == (
        credentials.access_key,
        credentials.secret_key,
        credentials.org_id,
    )


def test_bootstrap_does_nothing_on_a_non_empty_database(
    identity: IdentityService, tmp_path: Path, db_url: str
) -> None:
    identity.create_org("Existing", NOW)
    settings = settings_for(tmp_path, db_url)
    assert identity.bootstrap(settings, NOW) is None
    assert not settings.credentials_path.exists()
    assert len(identity.list_orgs()) == 1


def test_bootstrap_twice_creates_one_org(identity: IdentityService, tmp_path: Path, db_url: str) -> None:
    settings = settings_for(tmp_path, db_url)
    assert identity.bootstrap(settings, NOW) is not None
    assert identity.bootstrap(settings, NOW) is None
    assert len(identity.list_orgs()) == 1


def test_bootstrap_replaces_a_world_readable_leftover(
    identity: IdentityService, tmp_path: Path, db_url: str
) -> None:
    settings = settings_for(tmp_path, db_url)
    settings.credentials_path.parent.mkdir(parents=True)
    settings.credentials_path.write_text("old")
    settings.credentials_path.chmod(0o644)
    credentials = identity.bootstrap(settings, NOW)
    assert credentials is not None
    assert stat.S_IMODE(settings.credentials_path.stat().st_mode) == 0o600
    assert Credentials.load(settings.credentials_path) == credentials


def test_concurrent_bootstrap_creates_one_org(tmp_path: Path, db_url: str, engine: Engine) -> None:
    # The schema is migrated once, by the fixture: Alembic's context is process-global, so
    # migrating from several threads at once is not something separate processes would do.
    settings = settings_for(tmp_path, db_url)
    barrier = threading.Barrier(4)
    results: list[Credentials | None] = []
    errors: list[BaseException] = []

    def start() -> None:
        # Each "process" has its own engine, as separate servers would.
        own = make_engine(db_url)
        try:
            barrier.wait()
            results.append(IdentityService(make_session_factory(own)).bootstrap(settings, NOW))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    created = [result for result in results if result is not None]
    assert len(results) == 4
    assert len(created) == 1
    assert org_count(engine) == 1
    assert Credentials.load(settings.credentials_path) == created[0]


def test_bootstrap_losing_a_race_on_the_username_returns_none(
    identity: IdentityService, engine: Engine, tmp_path: Path, db_url: str
) -> None:
    # An "admin" user already exists although no organisation does: the insert conflicts.
    with transaction(make_session_factory(engine)) as session:
        store.insert_user(session, "u10000000000000", "admin", NOW)
    settings = settings_for(tmp_path, db_url)
    assert identity.bootstrap(settings, NOW) is None
    assert org_count(engine) == 0
    assert (
        not settings.credentials_path.parent.exists()
        or list(settings.credentials_path.parent.iterdir()) == []
    )


def test_bootstrap_that_cannot_write_the_file_leaves_the_database_empty(
    identity: IdentityService, engine: Engine, tmp_path: Path, db_url: str
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(OSError):
        identity.bootstrap(settings_for(tmp_path, db_url), NOW)
    assert org_count(engine) == 0


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
        ("::", 8080, "http://127.0.0.1:8080"),
        ("127.0.0.1", 9000, "http://127.0.0.1:9000"),
        ("flowyard.local", 80, "http://flowyard.local:80"),
        ("::1", 8080, "http://[::1]:8080"),
    ],
)
def test_server_url(tmp_path: Path, host: str, port: int, url: str) -> None:
    assert server_url(load_settings(data_dir=tmp_path, host=host, port=port)) == url


def test_credentials_load_rejects_incomplete_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"url": "http://x", "orgId": "o1"}))
    with pytest.raises(InvalidParameterError, match=r"credentials.json: missing userId"):
        Credentials.load(path)
    path.write_text("{not json")
    with pytest.raises(InvalidParameterError, match=r"^credentials file .* is not valid JSON"):
        Credentials.load(path)
