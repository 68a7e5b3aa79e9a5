"""Identity use cases: organisations, users, memberships, applications, first-start bootstrap.

Each public method is one transaction. Times arrive as ``now`` (aware UTC);
randomness comes from an injected :class:`random.Random`, by default the
operating system's CSPRNG, because application secrets are drawn from it.

Errors: unknown or invalid input is :class:`~flowyard.errors.InvalidParameterError`
(62102); a ``userId``/``orgId`` pair that does not match is
:class:`~flowyard.errors.InvalidUserError` (62101), the API's permission rule 1.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flowyard.credentials import Credentials
from flowyard.domain.identity import (
    Application,
    Organization,
    User,
    new_access_key,
    new_org_id,
    new_secret_key,
    new_user_id,
    validate_name,
    validate_username,
)
from flowyard.errors import InternalError, InvalidParameterError, InvalidUserError
from flowyard.settings import Settings
from flowyard.store import identity as store
from flowyard.store import projects as project_store
from flowyard.store import sessions as session_store
from flowyard.store.db import transaction

__all__ = ["BOOTSTRAP_USERNAME", "Credentials", "IdentityService"]

BOOTSTRAP_USERNAME = "admin"
BOOTSTRAP_ORG_NAME = "Default Organization"
BOOTSTRAP_APP_NAME = "flowyard-admin"
# The organisation's DataWorks project (ProjectId), written to credentials.json as projectId.
BOOTSTRAP_PROJECT_NAME = "default"
# Ids are random; retry a clash a few times rather than assume it never happens.
_ID_ATTEMPTS = 8
# Hosts that mean "every interface": a client must connect to loopback instead.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def server_url(settings: Settings) -> str:
    """The URL a local client uses to reach the server described by ``settings``."""
    host = "127.0.0.1" if settings.host in _WILDCARD_HOSTS else settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{settings.port}"


def _write_private_file(path: Path, content: str) -> Path:
    """Write ``content`` to a fresh sibling of ``path`` created with mode 0600; returns the sibling.

    The file is created by ``os.open(..., 0o600)`` so it is never readable by
    others, not even between creation and a chmod; O_EXCL refuses to write
    through a file or symlink planted at the temporary name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random suffix, not the pid: in a container every server may be pid 1.
    temporary = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # in case the umask removed the owner's own bits
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


class IdentityService:
    """Use cases over organisations, users and applications."""

    def __init__(self, session_factory: sessionmaker[Session], rng: random.Random | None = None) -> None:
        self._sessions = session_factory
        self._rng = rng if rng is not None else random.SystemRandom()

    # --- organisations -------------------------------------------------------

    def create_org(self, name: str, now: datetime) -> Organization:
        name = validate_name("name", name)
        with transaction(self._sessions) as session:
            return self._create_org(session, name, now)

    def list_orgs(self) -> list[Organization]:
        with transaction(self._sessions) as session:
            return store.list_orgs(session)

    # --- users ---------------------------------------------------------------

    def create_user(self, username: str, org_ids: Iterable[str], now: datetime) -> User:
        """Create an unlocked user in one or more existing organisations.

        Raises 62102 if ``org_ids`` is empty, an organisation does not exist
        or the username is taken or invalid.
        """
        username = validate_username(username)
        wanted = frozenset(org_ids)
        if not wanted:
            raise InvalidParameterError("A user must belong to at least one organization")
        try:
            with transaction(self._sessions) as session:
                for org_id in sorted(wanted):
                    if not store.org_exists(session, org_id):
                        raise InvalidParameterError(f"Organization not found: {org_id}")
                if store.get_user_by_username(session, username) is not None:
                    raise InvalidParameterError(f"A user named {username} already exists")
                user = self._create_user(session, username, wanted, now)
        except IntegrityError as exc:
            # Another process created the same username between our check and our insert.
            raise InvalidParameterError(f"A user named {username} already exists") from exc
        return user

    def get_user(self, user_ref: str) -> User:
        """The user with id or username ``user_ref``; 62102 if there is none."""
        with transaction(self._sessions) as session:
            return self._require_user(session, user_ref)

    def list_users(self, org_id: str | None = None) -> list[User]:
        """All users, or the members of ``org_id`` (62102 if that organisation does not exist)."""
        with transaction(self._sessions) as session:
            if org_id is not None and not store.org_exists(session, org_id):
                raise InvalidParameterError(f"Organization not found: {org_id}")
            return store.list_users(session, org_id)

    def set_user_locked(self, user_ref: str, locked: bool) -> User:
        """Lock or unlock the user with id or username ``user_ref``; idempotent."""
        with transaction(self._sessions) as session:
            user = self._require_user(session, user_ref)
            store.set_user_locked(session, user.id, locked)
            return replace(user, locked=locked)

    def add_membership(self, user_ref: str, org_id: str) -> User:
        """Add the user to ``org_id``; idempotent. 62102 if either does not exist."""
        with transaction(self._sessions) as session:
            user = self._require_user(session, user_ref)
            if not store.org_exists(session, org_id):
                raise InvalidParameterError(f"Organization not found: {org_id}")
            store.add_membership(session, user.id, org_id)
            return replace(user, org_ids=user.org_ids | {org_id})

    def check_user_in_org(self, user_id: str, org_id: str) -> User:
        """The user ``user_id`` if it exists and belongs to ``org_id``, else 62101.

        Only ids are accepted here: this checks the API's ``userId``/``orgId``.
        """
        with transaction(self._sessions) as session:
            user = store.get_user(session, user_id) if user_id else None
        if user is None or not user.is_member_of(org_id):
            raise InvalidUserError()
        return user

    # --- applications --------------------------------------------------------

    def create_app(self, org_id: str, name: str, now: datetime) -> Application:
        """Register a service account in ``org_id`` with a fresh accessKey/secretKey pair."""
        name = validate_name("name", name)
        with transaction(self._sessions) as session:
            if not store.org_exists(session, org_id):
                raise InvalidParameterError(f"Organization not found: {org_id}")
            return self._create_app(session, org_id, name, now)

    def list_apps(self, org_id: str | None = None) -> list[Application]:
        with transaction(self._sessions) as session:
            return store.list_apps(session, org_id)

    # --- first start ---------------------------------------------------------

    def bootstrap(
        self,
        settings: Settings,
        now: datetime,
        *,
        initial_password: Callable[[], tuple[str, str]] | None = None,
    ) -> Credentials | None:
        """On a database without organisations, create an organisation, its DataWorks project,
        the "admin" user and an app.

        Writes ``settings.credentials_path`` (mode 0600, replacing any older
        file) and returns the credentials; returns None and changes nothing
        if an organisation exists. Safe when several processes start at once
        on one database: the check and the inserts share one transaction that
        holds the bootstrap lock (see :func:`flowyard.store.identity.lock_for_bootstrap`),
        and a process that still loses a race on the unique username returns None.

        The file is written before the commit, under a temporary name, so a
        file that cannot be written leaves the database empty; it gets its
        final name only after the commit.

        ``initial_password`` gives a one-time console password and its hash: the hash is stored
        for "admin" in the same transaction and the password goes into the file as ``password``.
        """
        target = settings.credentials_path
        temporary: Path | None = None
        try:
            with transaction(self._sessions) as session:
                store.lock_for_bootstrap(session)
                if store.count_orgs(session) > 0:
                    return None
                org = self._create_org(session, BOOTSTRAP_ORG_NAME, now)
                user = self._create_user(session, BOOTSTRAP_USERNAME, frozenset({org.id}), now)
                app = self._create_app(session, org.id, BOOTSTRAP_APP_NAME, now)
                project_id = project_store.ensure_project(session, org.id, BOOTSTRAP_PROJECT_NAME, now)
                password = None
                if initial_password is not None:
                    password, hashed = initial_password()
                    session_store.set_password_hash(session, user.id, hashed, now)
                credentials = Credentials(
                    url=server_url(settings),
                    org_id=org.id,
                    user_id=user.id,
                    username=user.username,
                    access_key=app.access_key,
                    secret_key=app.secret_key,
                    project_id=project_id,
                    password=password,
                )
                temporary = _write_private_file(target, credentials.to_json())
        except IntegrityError:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            return None
        except BaseException:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            raise
        assert temporary is not None
        os.replace(temporary, target)
        return credentials

    # --- helpers (inside a transaction) --------------------------------------

    def _require_user(self, session: Session, user_ref: str) -> User:
        user = store.find_user(session, user_ref) if user_ref else None
        if user is None:
            raise InvalidParameterError(f"User not found: {user_ref}")
        return user

    def _unused_id(self, generate: Callable[[random.Random], str], taken: Callable[[str], bool]) -> str:
        for _ in range(_ID_ATTEMPTS):
            candidate = generate(self._rng)
            if not taken(candidate):
                return candidate
        raise InternalError("Could not allocate a unique id; try again")

    def _create_org(self, session: Session, name: str, now: datetime) -> Organization:
        org_id = self._unused_id(new_org_id, lambda candidate: store.org_exists(session, candidate))
        org = Organization(id=org_id, name=name)
        store.insert_org(session, org, now)
        return org

    def _create_user(self, session: Session, username: str, org_ids: frozenset[str], now: datetime) -> User:
        user_id = self._unused_id(new_user_id, lambda candidate: store.user_id_exists(session, candidate))
        store.insert_user(session, user_id, username, now)
        for org_id in sorted(org_ids):
            store.add_membership(session, user_id, org_id)
        return User(id=user_id, username=username, locked=False, org_ids=org_ids)

    def _create_app(self, session: Session, org_id: str, name: str, now: datetime) -> Application:
        access_key = self._unused_id(
            new_access_key, lambda candidate: store.get_app(session, candidate) is not None
        )
        app = Application(
            access_key=access_key, secret_key=new_secret_key(self._rng), org_id=org_id, name=name
        )
        store.insert_app(session, app, now)
        return app
