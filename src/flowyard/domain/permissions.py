"""Who may do what to a flow (spec section 1.7), as pure functions.

Decisions taken where the spec is loose (README, "Permissions"):
- Owners and visitors are ``;``-separated usernames; surrounding separators
  and blanks are ignored when comparing.
- The user who imported a flow (its creator) is always an owner, so importing
  a flow whose ``owners`` names someone else cannot lock its author out.
- Reading a flow's definition (Get, Export, Load For Edit) needs read rights:
  owner, creator or visitor. Lists (Search Flow, directory tree) show every
  flow of the organisation by name, as EnOS does.
- Objects of another organisation do not exist for the caller: they are
  reported as not found, never as forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowyard.errors import LockedError, NoPrivilegeError


def split_names(names: str) -> frozenset[str]:
    return frozenset(part.strip() for part in names.split(";") if part.strip())


@dataclass(frozen=True, slots=True)
class Caller:
    """The user an API call acts for, already checked to belong to ``org_id``."""

    user_id: str
    username: str
    org_id: str
    locked: bool = False


@dataclass(frozen=True, slots=True)
class Rights:
    read: bool
    edit: bool


def flow_rights(caller: Caller, *, owners: str, visitors: str, creator: str) -> Rights:
    edit = caller.username in split_names(owners) or caller.username == creator
    read = edit or caller.username in split_names(visitors)
    return Rights(read=read, edit=edit)


def require_read(rights: Rights) -> None:
    if not rights.read:
        raise NoPrivilegeError()


def require_edit(rights: Rights) -> None:
    if not rights.edit:
        raise NoPrivilegeError()


def require_unlocked(caller: Caller, *, flow_locked: bool = False) -> None:
    if caller.locked:
        raise LockedError()
    if flow_locked:
        raise LockedError("This workflow is locked")
