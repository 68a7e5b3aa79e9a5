"""DataWorks projects (workspaces): one per organisation, numbered like DataWorks numbers them.

``ProjectId`` on the DataWorks face is a positive integer. Flowyard keeps exactly one project per
organisation (a unique ``org_id``); :func:`ensure_project` creates it on first use, so the
bootstrap organisation and any later organisation get one the same way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowyard.store import models

# Project ids start here so that they look like DataWorks workspace ids and never collide with 0.
FIRST_PROJECT_ID = 10001


def get(session: Session, project_id: int) -> tuple[int, str] | None:
    """``(project_id, org_id)`` of the project, or None."""
    row = session.get(models.Project, project_id)
    return None if row is None else (row.id, row.org_id)


def for_org(session: Session, org_id: str) -> int | None:
    """The id of the organisation's project, or None when it has none yet."""
    return session.scalar(select(models.Project.id).where(models.Project.org_id == org_id))


def ensure_project(session: Session, org_id: str, name: str, now: datetime) -> int:
    """The organisation's project id, creating the project (next free id) when it has none.

    Two concurrent callers race on the unique ``org_id``; the loser reads the winner's row.
    """
    existing = for_org(session, org_id)
    if existing is not None:
        return existing
    highest = session.scalar(select(func.max(models.Project.id)))
    project_id = FIRST_PROJECT_ID if highest is None else highest + 1
    try:
        with session.begin_nested():
            session.add(models.Project(id=project_id, org_id=org_id, name=name, created_at=now))
    except IntegrityError:
        found = for_org(session, org_id)
        if found is None:
            raise
        return found
    return project_id
