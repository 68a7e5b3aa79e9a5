"""Who may call Flowyard: organisations, users, applications and access tokens.

These are plain values. The EnOS model (spec 1.7, 2.2, 2.5):

* an **organisation** (OU) owns directories and flows; its id looks like
  ``o15426865866571``;
* a **user** (``u15426865866571``) belongs to one or more organisations and
  acts through the ``userId``/``orgId`` query parameters; a locked user may
  read but not change or run anything;
* an **application** (service account) holds the ``accessKey``/``secretKey``
  pair that signs requests; it belongs to one organisation;
* an **access token** is issued to an application by the token service and
  keys every request signature until it expires.

Id generators take the random source as an argument so tests can pass a
seeded :class:`random.Random`; the services default to
:class:`random.SystemRandom` (the operating system's CSPRNG), which secret
keys and tokens require.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flowyard.errors import InvalidParameterError

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_USERNAME_LENGTH",
    "AccessToken",
    "AppPrincipal",
    "Application",
    "Organization",
    "User",
    "new_access_key",
    "new_access_token",
    "new_org_id",
    "new_secret_key",
    "new_user_id",
    "validate_name",
    "validate_username",
]

MAX_USERNAME_LENGTH = 128
MAX_NAME_LENGTH = 255
# Digits after the one-letter prefix of organisation and user ids, as in EnOS.
ID_DIGITS = 14
ACCESS_TOKEN_LENGTH = 64  # fits access_tokens.token (128) with room to spare
_URL_SAFE = string.ascii_letters + string.digits + "-_"
# Flow owners and visitors are usernames joined by ";" (spec 1.7), so a
# username may not contain the separator, nor blanks that make lists ambiguous.
_FORBIDDEN_IN_USERNAME = frozenset(";,") | frozenset(string.whitespace)


@dataclass(frozen=True)
class Organization:
    id: str
    name: str


@dataclass(frozen=True)
class User:
    """A user and the ids of the organisations it belongs to."""

    id: str
    username: str
    locked: bool
    org_ids: frozenset[str] = frozenset()

    def is_member_of(self, org_id: str) -> bool:
        return org_id in self.org_ids


@dataclass(frozen=True)
class Application:
    """A service account. ``secret_key`` is kept out of ``repr`` so it does not leak into logs."""

    access_key: str
    secret_key: str = field(repr=False)
    org_id: str
    name: str


@dataclass(frozen=True)
class AppPrincipal:
    """The authenticated caller of a signed request: which application, of which organisation."""

    access_key: str
    org_id: str


@dataclass(frozen=True)
class AccessToken:
    """A token issued by the token service; valid while ``now < expires_at``."""

    token: str = field(repr=False)
    access_key: str
    issued_at: datetime
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def remaining_seconds(self, now: datetime) -> int:
        """Whole seconds of validity left at ``now`` (0 once expired); the token service's ``expire``."""
        return max(0, int((self.expires_at - now).total_seconds()))


def _digits(rng: random.Random, count: int) -> str:
    # A non-zero leading digit keeps the id at exactly ``count`` digits.
    return str(rng.randrange(10 ** (count - 1), 10**count))


def new_org_id(rng: random.Random) -> str:
    """``o`` and 14 digits, like ``o15426865866571``."""
    return "o" + _digits(rng, ID_DIGITS)


def new_user_id(rng: random.Random) -> str:
    """``u`` and 14 digits, like ``u15426865866571``."""
    return "u" + _digits(rng, ID_DIGITS)


def new_access_key(rng: random.Random) -> str:
    """A 36-character UUID-shaped access key (version 4 layout)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _url_safe(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_URL_SAFE) for _ in range(length))


def new_secret_key(rng: random.Random) -> str:
    """128 random bits as lowercase hex in the UUID layout ``8-4-4-4-12``, the shape EnOS mints.

    EnOS SDKs parse keys (``enos-poseidon`` reads ``secret.split("-")[1]`` as hex), so a key of
    another shape breaks them before they send anything. Keys minted earlier in the url-safe
    shape stay valid: a secret is only ever compared, never parsed, by Flowyard. Use a CSPRNG
    (``random.SystemRandom``) outside tests.
    """
    return str(uuid.UUID(int=rng.getrandbits(128)))


def new_access_token(rng: random.Random) -> str:
    """64 url-safe characters (384 bits). Use a CSPRNG (``random.SystemRandom``) outside tests."""
    return _url_safe(rng, ACCESS_TOKEN_LENGTH)


def validate_username(username: str) -> str:
    """Return ``username`` if it can be stored and used in an owners list, else raise 62102."""
    if not username:
        raise InvalidParameterError("param: username cannot be empty")
    if len(username) > MAX_USERNAME_LENGTH:
        raise InvalidParameterError(f"Invalid parameter: username is longer than {MAX_USERNAME_LENGTH}")
    bad = sorted({char for char in username if char in _FORBIDDEN_IN_USERNAME})
    if bad:
        shown = ", ".join(repr(char) for char in bad)
        raise InvalidParameterError(f"Invalid parameter: username may not contain {shown}")
    return username


def validate_name(kind: str, name: str) -> str:
    """Return ``name`` (of an organisation or application) stripped, or raise 62102 if blank or too long."""
    stripped = name.strip()
    if not stripped:
        raise InvalidParameterError(f"param: {kind} cannot be empty")
    if len(stripped) > MAX_NAME_LENGTH:
        raise InvalidParameterError(f"Invalid parameter: {kind} is longer than {MAX_NAME_LENGTH}")
    return stripped
