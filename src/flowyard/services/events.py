"""Run events for readers: follow the event table by id cursor, and purge what is past retention.

In-process subscribers use the :class:`~flowyard.services.transitions.EventBus`;
other processes (an API process feeding a live view, an alert sender) follow
the table with :meth:`EventService.read_after`, woken on PostgreSQL by the
``flowyard_events`` notification (see :class:`flowyard.store.notify.Listener`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.events import RunEvent
from flowyard.store import events as store
from flowyard.store.db import transaction

MAX_PAGE = 1000


class EventService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def read_after(self, after_id: int, *, limit: int = 500, org_id: str | None = None) -> list[RunEvent]:
        """Events newer than ``after_id`` (oldest first, at most ``limit``); one organisation's if given."""
        with transaction(self._sessions, read_only=True) as session:
            return store.read_after(session, after_id, limit=min(max(limit, 1), MAX_PAGE), org_id=org_id)

    def last_id(self) -> int:
        with transaction(self._sessions, read_only=True) as session:
            return store.last_id(session)

    def purge(self, now: datetime, retention: timedelta) -> int:
        """Delete events older than ``retention``, in short transactions; returns how many went."""
        total = 0
        while True:
            with transaction(self._sessions) as session:
                deleted = store.purge_before(session, now - retention)
            total += deleted
            if deleted < store.PURGE_BATCH:
                return total
