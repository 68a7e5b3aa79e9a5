"""Which scheduler leads: the holder of the lease in the database (see :mod:`flowyard.store.leases`).

The leader renews the lease three times per period; a standby tries to take it
every ``retry`` interval, so it leads at most one lease period plus one retry
after the leader died. Without a lease period (SQLite, where a file lock already
makes one scheduler) every check says "lead".
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from flowyard.store import leases
from flowyard.store.db import transaction

log = logging.getLogger("flowyard.scheduler")


class Leadership:
    def __init__(
        self, sessions: sessionmaker[Session], holder: str, ttl: timedelta | None, retry: timedelta
    ) -> None:
        self._sessions = sessions
        self._holder = holder
        self._ttl = ttl
        self._retry = retry
        self.leader = ttl is None
        self._due = datetime.min.replace(tzinfo=UTC)

    def check(self, now: datetime) -> tuple[bool, bool]:
        """(leading now, just became the leader); touches the database at most once per interval."""
        if self._ttl is None:
            return True, False
        if now < self._due:
            return self.leader, False
        with transaction(self._sessions) as session:
            leading = leases.acquire(session, self._holder, now, self._ttl)
        became = leading and not self.leader
        if became:
            log.warning("scheduler %s is now the leader", self._holder)
        elif self.leader and not leading:
            log.error("scheduler %s lost the lease; standing by", self._holder)
        self.leader = leading
        self._due = now + (self._ttl / 3 if leading else self._retry)
        return leading, became

    def release(self) -> None:
        """Give the lease up at a clean stop, so a standby takes over at once."""
        if not self.leader or self._ttl is None:
            return
        try:
            with transaction(self._sessions) as session:
                leases.release(session, self._holder)
        except Exception:
            log.exception("could not release the scheduler lease")
        self.leader = False
