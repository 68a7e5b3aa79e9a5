"""Python client of the DataWorks OpenAPI 2024-05-18 face (Flowyard's, or Alibaba Cloud's).

::

    from flowyard.client import DataWorksClient

    with DataWorksClient.from_credentials() as dw:          # needs projectId in credentials.json
        job_id = dw.import_workflow(spec_text)
        status = dw.wait_job(job_id, timeout=300)           # "Response" holds the workflow id
        print(dw.get_workflow(status["Response"]))          # the FlowSpec text

Every call is one RPC request as the official SDK sends it: ``POST /`` with the operation in
``x-acs-action``, ``x-acs-version: 2024-05-18``, the parameters form-encoded in the body and an
``ACS3-HMAC-SHA256`` signature over ``host``, ``content-type`` and every ``x-acs-*`` header
(see :mod:`flowyard.dataworks.signature`). Without keys (a ``--no-auth`` server) nothing is signed.

Failures (HTTP 4xx/5xx with ``{RequestId, Code, Message}``) raise :mod:`flowyard.errors` classes
whose message starts with the ``Code``: ``InvalidParameter*`` → InvalidParameterError, signature,
timestamp, nonce and access-key codes → AuthError, ``Forbidden.*`` → NoPrivilegeError,
``OperationDenied`` → StateError, ``InternalError`` → InternalError, anything else a plain
FlowyardError. An unreachable server or an answer that is not DataWorks JSON raises
ConnectionFailedError.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from flowyard.clock import Clock, SystemClock
from flowyard.credentials import Credentials
from flowyard.dataworks.signature import (
    ALGORITHM,
    DATE_FORMAT,
    X_ACS_ACTION,
    X_ACS_CONTENT_SHA256,
    X_ACS_DATE,
    X_ACS_NONCE,
    X_ACS_VERSION,
    canonical_request,
    sign,
    string_to_sign,
)
from flowyard.errors import (
    AuthError,
    ConnectionFailedError,
    FlowyardError,
    InternalError,
    InvalidParameterError,
    NoPrivilegeError,
    StateError,
)

VERSION = "2024-05-18"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
DEFAULT_TIMEOUT_SECONDS = 30.0

# Codes of a refused signature (flowyard.dataworks.signature and Alibaba Cloud's gateway).
_AUTH_CODES = frozenset(
    {
        "MissingParameter",
        "IncompleteSignature",
        "SignatureDoesNotMatch",
        "SignatureNonceUsed",
        "InvalidTimeStamp.Format",
        "InvalidTimeStamp.Expired",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
    }
)


def error_for(status: int, code: str, message: str, request_id: str = "") -> FlowyardError:
    """The :mod:`flowyard.errors` exception for a DataWorks error answer; its message starts with ``code``."""
    text = f"{code}: {message}" + (f" (RequestId {request_id})" if request_id else "")
    if code.startswith("InvalidParameter"):
        return InvalidParameterError(text)
    if code in _AUTH_CODES or code.startswith(("InvalidTimeStamp.", "InvalidAccessKeyId.")):
        return AuthError(text)
    if code.startswith("Forbidden"):
        return NoPrivilegeError(text)
    if code == "OperationDenied":
        return StateError(text)
    if code == "InternalError":
        return InternalError(text)
    error = FlowyardError(text)
    error.code = status
    return error


class DataWorksClient:
    """Calls the DataWorks 2024-05-18 operations of project ``project_id`` at ``url``.

    ``http`` is an existing ``httpx.Client`` (e.g. Starlette's ``TestClient``, or one with an
    ``httpx.MockTransport``) that the caller keeps and closes; without it the client creates and
    closes its own. ``clock`` gives ``x-acs-date`` (tests fake it). Usable as a context manager.
    """

    def __init__(
        self,
        url: str,
        access_key: str | None,
        secret_key: str | None,
        project_id: int,
        *,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if (access_key is None) != (secret_key is None):
            raise ValueError("access_key and secret_key must be given together")
        self._url = url.rstrip("/")
        self._access_key = access_key
        self._secret_key = secret_key
        self._project_id = project_id
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._clock: Clock = clock if clock is not None else SystemClock()

    @classmethod
    def from_credentials(
        cls, path: Path | str | None = None, *, url: str | None = None, **kwargs: Any
    ) -> DataWorksClient:
        """A client for a credentials file (``None``: the default file); it must hold ``projectId``.

        ``url`` overrides the file's URL; ``kwargs`` go to the constructor (``http``, ``clock``, ...).
        """
        return cls.for_credentials(Credentials.load(path), url=url, **kwargs)

    @classmethod
    def for_credentials(
        cls, credentials: Credentials, *, url: str | None = None, **kwargs: Any
    ) -> DataWorksClient:
        if credentials.project_id is None:
            raise InvalidParameterError(
                "credentials: no projectId, which the DataWorks API needs (a server writes it on first start)"
            )
        return cls(
            url or credentials.url,
            credentials.access_key,
            credentials.secret_key,
            credentials.project_id,
            **kwargs,
        )

    @property
    def url(self) -> str:
        return self._url

    @property
    def project_id(self) -> int:
        return self._project_id

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> DataWorksClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataWorksClient(url={self._url!r}, project_id={self._project_id!r})"

    # -- the one request path -------------------------------------------------------------------------

    def signed_request(self, action: str, params: Mapping[str, Any]) -> httpx.Request:
        """The signed ``POST /`` request for ``action`` with form ``params`` (``None`` values left out)."""
        body = urlencode([(key, str(value)) for key, value in params.items() if value is not None]).encode()
        target = httpx.URL(self._url + "/")
        headers = {
            "host": target.netloc.decode("ascii"),
            "content-type": FORM_CONTENT_TYPE,
            X_ACS_ACTION: action,
            X_ACS_VERSION: VERSION,
            X_ACS_DATE: self._clock.now().strftime(DATE_FORMAT),
            X_ACS_NONCE: uuid.uuid4().hex,
            X_ACS_CONTENT_SHA256: hashlib.sha256(body).hexdigest(),
        }
        if self._access_key is not None and self._secret_key is not None:
            signed = sorted(headers)
            canonical = canonical_request("POST", "/", [], headers, signed, headers[X_ACS_CONTENT_SHA256])
            signature = sign(self._secret_key, string_to_sign(canonical))
            headers["authorization"] = (
                f"{ALGORITHM} Credential={self._access_key},SignedHeaders={';'.join(signed)},"
                f"Signature={signature}"
            )
        headers["accept"] = "application/json"
        return self._http.build_request("POST", target, content=body, headers=headers)

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        """Run one operation and return the whole answer (``RequestId`` and the operation's fields)."""
        try:
            request = self.signed_request(action, params)
            response = self._http.send(request)
        except httpx.InvalidURL as exc:
            raise ConnectionFailedError(f"invalid server URL {self._url!r}: {exc}") from None
        except httpx.TransportError as exc:
            raise ConnectionFailedError(f"could not reach {self._url}: {exc}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            if isinstance(answer, dict) and isinstance(answer.get("Code"), str):
                raise error_for(
                    response.status_code,
                    answer["Code"],
                    str(answer.get("Message", "")),
                    str(answer.get("RequestId", "")),
                )
            raise ConnectionFailedError(
                f"{self._url} answered {action} with HTTP {response.status_code}, not a DataWorks error"
            )
        if not isinstance(answer, dict):
            raise ConnectionFailedError(f"{self._url} did not answer {action} with a DataWorks JSON object")
        return answer

    def _field(self, answer: dict[str, Any], name: str) -> Any:
        if name not in answer:
            raise ConnectionFailedError(f"the DataWorks answer lacks {name}")
        return answer[name]

    # -- operations -----------------------------------------------------------------------------------

    def import_workflow(self, spec_text: str) -> str:
        """ImportWorkflowDefinition: submit FlowSpec ``spec_text``; returns the async job id."""
        answer = self.call("ImportWorkflowDefinition", ProjectId=self._project_id, Spec=spec_text)
        job = self._field(answer, "AsyncJob")
        return str(job["Id"])

    def job_status(self, job_id: str) -> dict[str, Any]:
        """GetJobStatus: the ``JobStatus`` (``Status``, ``Completed`` "True"/"False", ``Error``...)."""
        status: dict[str, Any] = self._field(self.call("GetJobStatus", JobId=job_id), "JobStatus")
        return status

    def wait_job(
        self,
        job_id: str,
        timeout: float = 300.0,
        poll_interval: float = 0.5,
        sleeper: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        """Poll :meth:`job_status` until the job completes and return its last ``JobStatus``.

        Between polls it calls ``sleeper(poll_interval)``; after ``timeout`` seconds of such sleeps
        (counted, so a fake sleeper still ends the loop) it raises :class:`FlowyardError`.
        """
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        waited = 0.0
        while True:
            status = self.job_status(job_id)
            if str(status.get("Completed")) == "True":
                return status
            if waited >= timeout:
                raise FlowyardError(
                    f"job {job_id} did not finish within {timeout:g} s (last status {status.get('Status')})"
                )
            sleeper(poll_interval)
            waited += poll_interval

    def get_workflow_definition(self, workflow_id: str | int) -> dict[str, Any]:
        """GetWorkflowDefinition: ``Id``, ``Name``, ``Spec`` (FlowSpec text), ``WorkflowId`` (the flow id)...

        ``workflow_id`` is the DataWorks workflow id, or the flow id of a flow created through EnOS.
        """
        answer = self.call("GetWorkflowDefinition", ProjectId=self._project_id, Id=str(workflow_id))
        definition: dict[str, Any] = self._field(answer, "WorkflowDefinition")
        return definition

    def get_workflow(self, workflow_id: str | int) -> str:
        """The FlowSpec text of a workflow (see :meth:`get_workflow_definition`)."""
        return str(self.get_workflow_definition(workflow_id).get("Spec", ""))

    def list_workflows(
        self,
        *,
        type: str | None = None,
        name: str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> dict[str, Any]:
        """ListWorkflowDefinitions: the ``PagingInfo`` (``TotalCount``, ``WorkflowDefinitions``...).

        ``type`` is ``CycleWorkflow`` or ``ManualWorkflow``; ``name`` a case-insensitive substring.
        """
        answer = self.call(
            "ListWorkflowDefinitions",
            ProjectId=self._project_id,
            Type=type,
            Name=name,
            PageNumber=page_number,
            PageSize=page_size,
        )
        paging: dict[str, Any] = self._field(answer, "PagingInfo")
        return paging

    def iter_workflows(self, *, type: str | None = None, name: str | None = None) -> Iterator[dict[str, Any]]:
        """Every workflow summary :meth:`list_workflows` matches, page after page."""
        page = 1
        while True:
            paging = self.list_workflows(type=type, name=name, page_number=page, page_size=100)
            items = paging.get("WorkflowDefinitions") or []
            yield from items
            if not items or page * 100 >= int(paging.get("TotalCount", 0)):
                return
            page += 1

    def delete_workflow(self, workflow_id: str | int) -> None:
        """DeleteWorkflowDefinition."""
        answer = self.call("DeleteWorkflowDefinition", ProjectId=self._project_id, Id=str(workflow_id))
        if answer.get("Success") is not True:
            raise FlowyardError(f"DeleteWorkflowDefinition of {workflow_id} did not succeed")


__all__ = ["DataWorksClient", "error_for"]
