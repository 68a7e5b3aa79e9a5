"""The workflow directory tree of each organisation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowyard.store.models import Directory

ROOT_TITLE = "Workflow"


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    id: str
    org_id: str
    parent_id: str | None
    name: str


def _row(d: Directory) -> DirectoryRow:
    return DirectoryRow(id=d.id, org_id=d.org_id, parent_id=d.parent_id, name=d.name)


def root_id(org_id: str) -> str:
    """The root directory's id is derived from the organisation, so creating it is idempotent."""
    return hashlib.md5(f"flowyard-root:{org_id}".encode(), usedforsecurity=False).hexdigest()


def ensure_root(session: Session, org_id: str, now: datetime) -> DirectoryRow:
    rid = root_id(org_id)
    found = session.get(Directory, rid)
    if found is None:
        try:
            with session.begin_nested():
                session.add(Directory(id=rid, org_id=org_id, parent_id=None, name=ROOT_TITLE, created_at=now))
        except IntegrityError:  # created concurrently by another process
            pass
        found = session.get(Directory, rid)
        assert found is not None
    return _row(found)


def get(session: Session, dir_id: str) -> DirectoryRow | None:
    found = session.get(Directory, dir_id)
    return _row(found) if found else None


def find_child(session: Session, parent_id: str, name: str) -> DirectoryRow | None:
    found = session.execute(
        select(Directory).where(Directory.parent_id == parent_id, Directory.name == name)
    ).scalar_one_or_none()
    return _row(found) if found else None


def create(session: Session, dir_id: str, org_id: str, parent_id: str, name: str, now: datetime) -> None:
    session.add(Directory(id=dir_id, org_id=org_id, parent_id=parent_id, name=name, created_at=now))
    session.flush()


def list_org(session: Session, org_id: str) -> list[DirectoryRow]:
    rows = session.execute(
        select(Directory).where(Directory.org_id == org_id).order_by(Directory.created_at, Directory.name)
    ).scalars()
    return [_row(d) for d in rows]
