"""The credentials file: where the server is and who the client acts as.

The server writes ``<data_dir>/credentials.json`` when it starts on an empty
database; the client reads it. The file is camelCase JSON, like the EnOS
console's service-account export::

    {"url": "http://127.0.0.1:8080", "orgId": "o1...", "userId": "u1...",
     "username": "admin", "accessKey": "...", "secretKey": "...", "projectId": 10001}

``projectId`` (optional, an integer) is the organisation's DataWorks project, the ``ProjectId``
the DataWorks SDKs send to the server's DataWorks face.

``accessKey`` and ``secretKey`` may be absent or ``null``: the client then
sends no authentication headers (a server in ``--no-auth`` mode).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowyard.errors import InvalidParameterError
from flowyard.settings import default_data_dir

CREDENTIALS_FILENAME = "credentials.json"

_REQUIRED_KEYS = ("url", "orgId", "userId")
_OPTIONAL_KEYS = ("username", "accessKey", "secretKey")


def default_credentials_path() -> Path:
    """``$FLOWYARD_HOME/credentials.json`` if the variable is set, else ``~/.flowyard/credentials.json``.

    The environment is read when this is called, never at import time.
    """
    return default_data_dir() / CREDENTIALS_FILENAME


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client needs to call a Flowyard (or EnOS) server on a user's behalf.

    ``access_key``/``secret_key`` are the service account's AccessKey
    (``appKey``) and SecretKey (``appSecret``); both or neither are set.
    """

    url: str
    org_id: str
    user_id: str
    username: str = ""
    access_key: str | None = None
    # Kept out of repr so that it never lands in a log or a traceback.
    secret_key: str | None = field(default=None, repr=False)
    project_id: int | None = None
    # The one-time console password of the bootstrap admin (written once; change it with
    # ``flowyard admin user passwd``). Kept out of repr like the secret.
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.access_key is None) != (self.secret_key is None):
            raise InvalidParameterError("credentials: accessKey and secretKey must be given together")

    @property
    def has_keys(self) -> bool:
        """True when requests are to be signed."""
        return self.access_key is not None

    def to_json(self) -> str:
        """The file format: the keys url, orgId, userId, username, accessKey, secretKey, projectId."""
        return json.dumps(self.to_mapping(), indent=2) + "\n"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, source: str = "credentials") -> Credentials:
        """Build from the camelCase file layout.

        Raises :class:`~flowyard.errors.InvalidParameterError` naming ``source``
        when a required key is missing or a value is not a string.
        """
        missing = [key for key in _REQUIRED_KEYS if not raw.get(key)]
        if missing:
            raise InvalidParameterError(f"{source}: missing {', '.join(missing)}")
        values: dict[str, str | None] = {}
        for key in (*_REQUIRED_KEYS, *_OPTIONAL_KEYS):
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidParameterError(f"{source}: {key} must be a string")
            values[key] = value
        project_id = raw.get("projectId")
        if project_id is not None and (isinstance(project_id, bool) or not isinstance(project_id, int)):
            raise InvalidParameterError(f"{source}: projectId must be an integer")
        password = raw.get("password")
        if password is not None and not isinstance(password, str):
            raise InvalidParameterError(f"{source}: password must be a string")
        return cls(
            url=str(values["url"]),
            org_id=str(values["orgId"]),
            user_id=str(values["userId"]),
            username=values["username"] or "",
            access_key=values["accessKey"] or None,
            secret_key=values["secretKey"] or None,
            project_id=project_id,
            password=password,
        )

    @classmethod
    def load(cls, path: Path | str | None = None) -> Credentials:
        """Read a credentials file; ``path=None`` means :func:`default_credentials_path`.

        Raises :class:`~flowyard.errors.InvalidParameterError` when the file is
        missing, unreadable, not a JSON object or lacks a required key; the
        message names the file.
        """
        file = Path(path).expanduser() if path is not None else default_credentials_path()
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidParameterError(
                f"no credentials file at {file}; start the server once (it writes one) "
                "or pass --credentials PATH"
            ) from None
        except OSError as exc:
            raise InvalidParameterError(f"cannot read credentials file {file}: {exc.strerror}") from None
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InvalidParameterError(f"credentials file {file} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise InvalidParameterError(f"credentials file {file} must hold a JSON object")
        return cls.from_mapping(raw, source=str(file))

    def to_mapping(self) -> dict[str, str | int | None]:
        """The camelCase file layout, the inverse of :meth:`from_mapping` (``projectId`` only when set)."""
        document: dict[str, str | int | None] = {
            "url": self.url,
            "orgId": self.org_id,
            "userId": self.user_id,
            "username": self.username,
            "accessKey": self.access_key,
            "secretKey": self.secret_key,
        }
        if self.project_id is not None:
            document["projectId"] = self.project_id
        if self.password is not None:
            document["password"] = self.password
        return document
