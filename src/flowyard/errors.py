"""Flowyard's one error hierarchy.

Every error a caller can see derives from :class:`FlowyardError`; each EnOS
error code has exactly one class. The API renders them into the EnOS envelope
in one place (``flowyard.api.envelope``) and the CLI maps them to exit codes
with :attr:`FlowyardError.exit_code`::

    FlowyardError                     62109  (also the base)
    ├── InvalidUserError              62101  userId/orgId invalid
    ├── InvalidParameterError         62102  bad input, validation, unknown ids
    ├── NoPrivilegeError              62103  caller may not do this
    ├── StateError                    62104  flow state forbids the operation
    ├── LockedError                   62105  user (or flow) locked
    ├── InternalError                 62109  our fault
    ├── AuthError                     -      signature / token failure (HTTP 401)
    │   └── TokenServiceError         1001-1204  the apim token service
    └── ConnectionFailedError         -      client side: server unreachable or not EnOS

Messages are the spec's messages where the spec has one; ``v20_message`` holds
the V2.0 wording where it differs.
"""

from __future__ import annotations


class FlowyardError(Exception):
    """Root of every error Flowyard reports to a caller."""

    code: int = 62109
    exit_code: int = 1
    default_message: str = "Internal server exception"

    def __init__(self, message: str | None = None, *, v20_message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.v20_message = v20_message
        super().__init__(self.message)

    def message_for(self, version: str) -> str:
        """The message in the wording of API ``version`` ("v2.0" or "v2.1")."""
        if version == "v2.0" and self.v20_message is not None:
            return self.v20_message
        return self.message


class InvalidUserError(FlowyardError):
    code = 62101
    exit_code = 4
    default_message = "userId does not exist, or it does not match to orgId."


class InvalidParameterError(FlowyardError):
    code = 62102
    exit_code = 2
    default_message = "Incorrect parameter"


class NoPrivilegeError(FlowyardError):
    code = 62103
    exit_code = 4
    default_message = "User has no privilege."


class StateError(FlowyardError):
    code = 62104
    exit_code = 5
    default_message = "Operation not allowed in the current state of the workflow."


class LockedError(FlowyardError):
    code = 62105
    exit_code = 4
    default_message = "Your account has been locked"


class InternalError(FlowyardError):
    code = 62109
    exit_code = 1
    default_message = "Internal server exception"


class AuthError(FlowyardError):
    """The request is not authenticated: bad signature, unknown or expired token, replay.

    Rendered with HTTP 401, as the EnOS gateway does, in the envelope of the
    API that was called.
    """

    code = 401
    exit_code = 3
    default_message = "Invalid authentication credentials"


class TokenServiceError(AuthError):
    """An error of the apim token service, with the token service's own codes."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


ERRORS_BY_CODE: dict[int, type[FlowyardError]] = {
    cls.code: cls
    for cls in (
        InvalidUserError,
        InvalidParameterError,
        NoPrivilegeError,
        StateError,
        LockedError,
        InternalError,
    )
}


class ConnectionFailedError(FlowyardError):
    """Client side: the server could not be reached or did not answer in the EnOS envelope."""

    code = -1
    exit_code = 6
    default_message = "Could not reach the Flowyard server"
