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


def _bump(session: Session, name: str, by: int = 1) -> int:
    """Advance counter ``name`` by ``by``; returns its new value (the last number reserved)."""
    value = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + by).returning(Counter.value)
    ).scalar_one_or_none()
    if value is not None:
        return int(value)
    try:
        with session.begin_nested():
            session.execute(insert(Counter).values(name=name, value=FIRST_ID[name] + by))
        return FIRST_ID[name] + by
    except IntegrityError:  # another process created the row first
        return _bump(session, name, by)


def allocate(session: Session, name: str, taken: Callable[[int], bool]) -> int:
    """The next free id of counter ``name``; ``taken`` says whether a number is in use."""
    while True:
        value = _bump(session, name)
        if not taken(value):
            return value


def allocate_many(
    session: Session, name: str, count: int, taken_between: Callable[[int, int], set[int]]
) -> list[int]:
    """``count`` free ids of counter ``name`` with one counter update and one look-up.

    A flow of thousands of tasks would otherwise cost two statements per task while holding the
    write lock. ``taken_between(low, high)`` returns the numbers of that closed range already in
    use; those (rare: ids a client chose) are replaced one at a time by :func:`allocate`.
    """
    if count <= 0:
        return []
    high = _bump(session, name, count)
    low = high - count + 1
    taken = taken_between(low, high)
    ids = [n for n in range(low, high + 1) if n not in taken]
    while len(ids) < count:
        ids.append(allocate(session, name, lambda n: bool(taken_between(n, n))))
    return ids


def current(session: Session, name: str) -> int:
    value = session.execute(select(Counter.value).where(Counter.name == name)).scalar_one_or_none()
    return int(value) if value is not None else FIRST_ID[name]
