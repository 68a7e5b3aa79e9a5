"""SQL for console passwords, browser sessions and login failures.

Functions take an open session and neither commit nor roll back; the
service owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from flowyard.store import models

__all__ = [
    "SessionRow",
    "clear_failures",
    "delete_expired",
    "delete_session",
    "delete_user_sessions",
    "get_failures",
    "get_password_hash",
    "get_session",
    "insert_session",
    "record_failure",
    "set_password_hash",
    "touch_session",
]


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_hash: str
    user_id: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def get_password_hash(session: Session, user_id: str) -> str | None:
    row = session.get(models.UserPassword, user_id)
    return row.hash if row is not None else None


def set_password_hash(session: Session, user_id: str, hashed: str, now: datetime) -> None:
    row = session.get(models.UserPassword, user_id)
    if row is None:
        session.add(models.UserPassword(user_id=user_id, hash=hashed, updated_at=now))
    else:
        row.hash = hashed
        row.updated_at = now
    session.flush()


def insert_session(session: Session, row: SessionRow) -> None:
    session.add(
        models.ConsoleSession(
            token_hash=row.token_hash,
            user_id=row.user_id,
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
        )
    )
    session.flush()


def get_session(session: Session, token_hash: str) -> SessionRow | None:
    row = session.get(models.ConsoleSession, token_hash)
    if row is None:
        return None
    return SessionRow(
        row.token_hash, row.user_id, row.csrf_token, row.created_at, row.last_seen_at, row.expires_at
    )


def touch_session(session: Session, token_hash: str, now: datetime) -> None:
    session.execute(
        update(models.ConsoleSession)
        .where(models.ConsoleSession.token_hash == token_hash)
        .values(last_seen_at=now)
    )


def delete_session(session: Session, token_hash: str) -> None:
    session.execute(delete(models.ConsoleSession).where(models.ConsoleSession.token_hash == token_hash))


def delete_user_sessions(session: Session, user_id: str) -> None:
    session.execute(delete(models.ConsoleSession).where(models.ConsoleSession.user_id == user_id))


def delete_expired(session: Session, idle_cutoff: datetime, now: datetime) -> None:
    session.execute(
        delete(models.ConsoleSession).where(
            (models.ConsoleSession.expires_at <= now) | (models.ConsoleSession.last_seen_at <= idle_cutoff)
        )
    )


def get_failures(session: Session, username: str) -> tuple[int, datetime | None]:
    row = session.execute(
        select(models.LoginFailure.failures, models.LoginFailure.last_failure_at).where(
            models.LoginFailure.username == username
        )
    ).first()
    return (0, None) if row is None else (row[0], row[1])


def record_failure(session: Session, username: str, now: datetime) -> int:
    row = session.get(models.LoginFailure, username)
    if row is None:
        session.add(models.LoginFailure(username=username, failures=1, last_failure_at=now))
        session.flush()
        return 1
    row.failures += 1
    row.last_failure_at = now
    session.flush()
    return row.failures


def clear_failures(session: Session, username: str) -> None:
    session.execute(delete(models.LoginFailure).where(models.LoginFailure.username == username))
