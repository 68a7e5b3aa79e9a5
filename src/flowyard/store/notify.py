"""Wake-ups across processes through PostgreSQL LISTEN/NOTIFY (a no-op on SQLite).

A notification is sent inside the transaction that made the change, so it is
delivered only if, and right after, the change commits. Listeners treat it as
a hint to look now; every process still polls at a slower pace, so a lost
notification (a listener reconnecting) delays work, never loses it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger("flowyard.notify")

WORK = "flowyard_work"  # an instance was triggered or cancelled: schedulers should look now
RESULTS = "flowyard_results"  # a worker wrote how an attempt ended
EVENTS = "flowyard_events"  # run events were appended (flowyard.store.events)


def notify(session: Session, channel: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


class Listener:
    """LISTENs on ``channels`` in a daemon thread and calls ``callback(channel)`` for each notification."""

    def __init__(self, url: str, channels: Iterable[str], callback: Callable[[str], None]) -> None:
        parsed = make_url(url).set(drivername="postgresql")
        self._dsn = parsed.render_as_string(hide_password=False)
        self._channels = tuple(channels)
        self._callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowyard-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3.0)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                    for channel in self._channels:
                        conn.execute(f"LISTEN {channel}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._callback(note.channel)
            except Exception as error:  # the database restarts, the network blips: listen again
                log.warning("listening for wake-ups failed (%s); retrying", error)
                self._stop.wait(1.0)
