"""Id allocation shared by every process on one database.

A counter row is bumped with an atomic UPDATE, so two servers never hand out
the same number. Callers may still insert ids chosen by a client (Import
Flow's ``flowId``); :func:`allocate` skips numbers that are taken.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowyard.store.models import Counter

FLOW_IDS = "flow"
TASK_IDS = "task"
FIRST_ID = {FLOW_IDS: 1000, TASK_IDS: 100000}


def _bump(session: Session, name: str) -> int:
    value = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar_one_or_none()
    if value is not None:
        return int(value)
    try:
        with session.begin_nested():
            session.execute(insert(Counter).values(name=name, value=FIRST_ID[name] + 1))
        return FIRST_ID[name] + 1
    except IntegrityError:  # another process created the row first
        return _bump(session, name)


def allocate(session: Session, name: str, taken: Callable[[int], bool]) -> int:
    """The next free id of counter ``name``; ``taken`` says whether a number is in use."""
    while True:
        value = _bump(session, name)
        if not taken(value):
            return value


def current(session: Session, name: str) -> int:
    value = session.execute(select(Counter.value).where(Counter.name == name)).scalar_one_or_none()
    return int(value) if value is not None else FIRST_ID[name]
