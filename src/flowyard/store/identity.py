"""SQL for organisations, users, memberships and applications.

Every function takes an open :class:`~sqlalchemy.orm.Session` and neither
commits nor rolls back: the calling service owns the transaction. Inserts are
executed at once (Core statements), so a constraint violation surfaces as an
:class:`~sqlalchemy.exc.IntegrityError` at the call, not at commit.
Rows leave this module as :mod:`flowyard.domain.identity` values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, text, update
from sqlalchemy.orm import Session

from flowyard.domain.identity import Application, Organization, User
from flowyard.store import models

__all__ = [
    "add_membership",
    "count_orgs",
    "find_user",
    "get_app",
    "get_org",
    "get_user",
    "get_user_by_username",
    "insert_app",
    "insert_org",
    "insert_user",
    "is_member",
    "list_apps",
    "list_orgs",
    "list_users",
    "lock_for_bootstrap",
    "org_exists",
    "set_user_locked",
    "user_id_exists",
]

# Arbitrary constant naming the PostgreSQL advisory lock that serialises bootstrap.
_BOOTSTRAP_LOCK_KEY = 0x466C6F7779617264  # "Flowyard"


# --- organisations ---------------------------------------------------------


def insert_org(session: Session, org: Organization, created_at: datetime) -> None:
    session.execute(insert(models.Organization).values(id=org.id, name=org.name, created_at=created_at))


def get_org(session: Session, org_id: str) -> Organization | None:
    row = session.get(models.Organization, org_id)
    return Organization(id=row.id, name=row.name) if row is not None else None


def org_exists(session: Session, org_id: str) -> bool:
    return session.scalar(select(models.Organization.id).where(models.Organization.id == org_id)) is not None


def count_orgs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.Organization)) or 0


def list_orgs(session: Session) -> list[Organization]:
    """All organisations, oldest first."""
    rows = session.scalars(
        select(models.Organization).order_by(models.Organization.created_at, models.Organization.id)
    )
    return [Organization(id=row.id, name=row.name) for row in rows]


def lock_for_bootstrap(session: Session) -> None:
    """Serialise first-start bootstrap between processes, until the transaction ends.

    SQLite needs nothing: Flowyard's SQLite transactions start with ``BEGIN
    IMMEDIATE`` and so already hold the database's write lock. PostgreSQL
    takes a transaction-scoped advisory lock, so a second process waits and
    then sees the first one's organisation.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BOOTSTRAP_LOCK_KEY})


# --- users and memberships -------------------------------------------------


def insert_user(session: Session, user_id: str, username: str, created_at: datetime) -> None:
    session.execute(
        insert(models.User).values(id=user_id, username=username, locked=False, created_at=created_at)
    )


def user_id_exists(session: Session, user_id: str) -> bool:
    return session.scalar(select(models.User.id).where(models.User.id == user_id)) is not None


def _org_ids_of(session: Session, user_ids: Iterable[str]) -> dict[str, frozenset[str]]:
    ids = list(user_ids)
    found: defaultdict[str, set[str]] = defaultdict(set)
    if ids:
        rows = session.execute(
            select(models.Membership.user_id, models.Membership.org_id).where(
                models.Membership.user_id.in_(ids)
            )
        )
        for user_id, org_id in rows:
            found[user_id].add(org_id)
    return {user_id: frozenset(found[user_id]) for user_id in ids}


def _to_user(session: Session, row: models.User | None) -> User | None:
    if row is None:
        return None
    org_ids = _org_ids_of(session, [row.id])[row.id]
    return User(id=row.id, username=row.username, locked=row.locked, org_ids=org_ids)


def get_user(session: Session, user_id: str) -> User | None:
    return _to_user(session, session.get(models.User, user_id))


def get_user_by_username(session: Session, username: str) -> User | None:
    return _to_user(session, session.scalar(select(models.User).where(models.User.username == username)))


def find_user(session: Session, user_ref: str) -> User | None:
    """The user whose id is ``user_ref``, else the one whose username is ``user_ref``.

    Ids win because they are what the API passes; a username that happens to
    look like another user's id cannot shadow that user.
    """
    return get_user(session, user_ref) or get_user_by_username(session, user_ref)


def list_users(session: Session, org_id: str | None = None) -> list[User]:
    """All users, or the members of ``org_id``, ordered by username."""
    query = select(models.User).order_by(models.User.username)
    if org_id is not None:
        query = query.join(models.Membership, models.Membership.user_id == models.User.id).where(
            models.Membership.org_id == org_id
        )
    rows = list(session.scalars(query))
    org_ids = _org_ids_of(session, [row.id for row in rows])
    return [
        User(id=row.id, username=row.username, locked=row.locked, org_ids=org_ids[row.id]) for row in rows
    ]


def add_membership(session: Session, user_id: str, org_id: str) -> bool:
    """Make ``user_id`` a member of ``org_id``; False if it already was. Both must exist."""
    if is_member(session, user_id, org_id):
        return False
    session.execute(insert(models.Membership).values(user_id=user_id, org_id=org_id))
    return True


def is_member(session: Session, user_id: str, org_id: str) -> bool:
    query = select(models.Membership.user_id).where(
        models.Membership.user_id == user_id, models.Membership.org_id == org_id
    )
    return session.scalar(query) is not None


def set_user_locked(session: Session, user_id: str, locked: bool) -> bool:
    """Set the lock flag; False if there is no such user."""
    result = session.execute(update(models.User).where(models.User.id == user_id).values(locked=locked))
    # An UPDATE's result is a CursorResult, the type that carries rowcount.
    return cast("CursorResult[Any]", result).rowcount > 0


# --- applications ------------------------------------------------------------


def _to_app(row: models.Application) -> Application:
    return Application(access_key=row.access_key, secret_key=row.secret_key, org_id=row.org_id, name=row.name)


def insert_app(session: Session, app: Application, created_at: datetime) -> None:
    session.execute(
        insert(models.Application).values(
            access_key=app.access_key,
            secret_key=app.secret_key,
            org_id=app.org_id,
            name=app.name,
            created_at=created_at,
        )
    )


def get_app(session: Session, access_key: str) -> Application | None:
    row = session.get(models.Application, access_key)
    return _to_app(row) if row is not None else None


def list_apps(session: Session, org_id: str | None = None) -> list[Application]:
    """All applications, or those of ``org_id``, oldest first."""
    query = select(models.Application).order_by(models.Application.created_at, models.Application.access_key)
    if org_id is not None:
        query = query.where(models.Application.org_id == org_id)
    return [_to_app(row) for row in session.scalars(query)]
