"""What the operations endpoints read: whether the database answers, and the run statistics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from flowyard.store.db import transaction
from flowyard.store.stats import Stats
from flowyard.store.stats import read as read_stats


class OpsService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def database_problem(self) -> str | None:
        """None when the database answers; else what went wrong, in a word."""
        try:
            with transaction(self._sessions, read_only=True) as session:
                session.execute(text("SELECT 1"))
        except Exception as error:
            return f"unreachable: {type(error).__name__}"
        return None

    def stats(self, now: datetime) -> Stats:
        with transaction(self._sessions, read_only=True) as session:
            return read_stats(session, now)
