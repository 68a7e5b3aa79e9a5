"""Python client of the Flowyard server and of the EnOS Batch Processing Service it copies.

::

    from flowyard.client import FlowyardClient

    with FlowyardClient.from_credentials() as client:      # ~/.flowyard/credentials.json
        dir_id = client.create_directory(root_id, "etl")
        flow_id = client.import_flow(definition, flow_name="daily", dir_id=dir_id)
        client.enable_flow(flow_id)

Every method wraps one EnOS API (V2.1 by default, V2.0 with
``api_version="v2.0"``), signs the request with an EnOS access token when the
credentials hold keys, and returns the answer's ``data``. Failures raise the
classes of :mod:`flowyard.errors`, re-exported here::

    FlowyardError                     any error; ``code`` is the EnOS code received
    ├── InvalidUserError              62101  userId/orgId invalid
    ├── InvalidParameterError         62102  bad input, unknown ids (also: bad credentials file)
    ├── NoPrivilegeError              62103  caller may not do this
    ├── StateError                    62104  flow state forbids the operation
    ├── LockedError                   62105  user (or flow) locked
    ├── InternalError                 62109  the server failed
    ├── AuthError                     HTTP 401: bad signature, unknown or expired token
    │   └── TokenServiceError         1001-1204  refused by the apim token service
    └── ConnectionFailedError         server unreachable, or its answer is not an EnOS envelope

An unknown non-zero code raises a plain :class:`FlowyardError` with that code.
The transport is swappable (``transport=httpx.MockTransport(...)``, or
``http=`` an existing ``httpx.Client`` such as Starlette's ``TestClient``), so
tests need no sockets.

:class:`DataWorksClient` (:mod:`flowyard.client.dataworks`) speaks the server's DataWorks
2024-05-18 RPC face (FlowSpec import, read back, list, delete) with ACS3-HMAC-SHA256 signatures.
"""

from flowyard.credentials import Credentials, default_credentials_path
from flowyard.errors import (
    AuthError,
    ConnectionFailedError,
    FlowyardError,
    InternalError,
    InvalidParameterError,
    InvalidUserError,
    LockedError,
    NoPrivilegeError,
    StateError,
    TokenServiceError,
)

from ._auth import ApimAuth
from ._client import FlowyardClient
from ._envelope import API_VERSIONS, ApiVersion
from .dataworks import DataWorksClient

__all__ = [
    "API_VERSIONS",
    "ApiVersion",
    "ApimAuth",
    "AuthError",
    "ConnectionFailedError",
    "Credentials",
    "DataWorksClient",
    "FlowyardClient",
    "FlowyardError",
    "InternalError",
    "InvalidParameterError",
    "InvalidUserError",
    "LockedError",
    "NoPrivilegeError",
    "StateError",
    "TokenServiceError",
    "default_credentials_path",
]
