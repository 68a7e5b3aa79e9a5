"""The synchronous client: one method per EnOS Batch Processing API.

Each method builds the EnOS request (path per API version, ``action`` and
``userId``/``orgId`` in the query, a JSON body serialised once to the bytes
that are signed and sent), sends it through ``httpx`` and returns the
envelope's ``data``, reduced to the useful value where the API wraps a single
field (``{"flowId": 12}`` → ``12``). Failures raise :mod:`flowyard.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import httpx

from flowyard.clock import Clock
from flowyard.credentials import Credentials
from flowyard.errors import ConnectionFailedError

from ._auth import JSON_CONTENT_TYPE, ApimAuth
from ._envelope import (
    DEFAULT_API_VERSION,
    PATH_PREFIXES,
    ApiVersion,
    expect_dict,
    expect_list,
    int_field,
    parse_api_version,
    str_field,
    unexpected,
    unwrap,
)

DEFAULT_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_PAGE_SIZE: Final = 10
# The first page of Search Flow / List Flow Instances (spec 2.6).
FIRST_PAGE: Final[dict[ApiVersion, int]] = {"v2.0": 0, "v2.1": 1}

Method = Literal["GET", "POST"]
Resource = Literal["flows", "flowInstances", "taskInstances", "directories", "time"]
QueryValue = str | int
Sorter = tuple[str, str]


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The one serialisation of a request body: compact UTF-8 JSON, non-ASCII kept as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def pagination(page_no: int, page_size: int, sorters: Sequence[Sorter]) -> dict[str, Any]:
    """The EnOS Pagination struct; sorter orders are upper-cased (``asc`` → ``ASC``)."""
    return {
        "pageNo": page_no,
        "pageSize": page_size,
        "sorters": [{"field": field, "order": order.upper()} for field, order in sorters],
    }


class FlowyardClient:
    """A client of a Flowyard server, or of any EnOS Batch Processing Service.

    ``url`` is the server (API gateway) base URL; ``org_id``/``user_id`` pick
    the OU and the user the calls act for. With ``access_key`` and
    ``secret_key`` every call is signed (see :class:`ApimAuth`); with neither,
    no authentication header is sent (a server in ``--no-auth`` mode).

    The HTTP side is swappable: ``transport`` (e.g. ``httpx.MockTransport``)
    goes into the ``httpx.Client`` the client creates and closes; ``http`` is
    an existing ``httpx.Client`` (e.g. ``starlette.testclient.TestClient``)
    that the caller keeps and closes. ``timeout`` only applies to a client
    created here. ``clock`` gives the signing timestamps (tests fake it).

    Usable as a context manager. Threads may share one client as they may
    share an ``httpx.Client``; the token cache is safe for that.
    """

    def __init__(
        self,
        url: str,
        org_id: str,
        user_id: str,
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        api_version: str = DEFAULT_API_VERSION,
        transport: httpx.BaseTransport | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
    ) -> None:
        if (access_key is None) != (secret_key is None):
            raise ValueError("access_key and secret_key must be given together")
        if http is not None and transport is not None:
            raise ValueError("give either transport or http, not both")
        self._url = url.rstrip("/")
        self._org_id = org_id
        self._user_id = user_id
        self._api_version = parse_api_version(api_version)
        self._prefix = self._url + PATH_PREFIXES[self._api_version]
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(transport=transport, timeout=timeout)
        self._auth: ApimAuth | None = None
        if access_key is not None and secret_key is not None:
            self._auth = ApimAuth(self._url, access_key, secret_key, clock=clock)

    @classmethod
    def from_credentials(
        cls, path: Path | str | None = None, *, url: str | None = None, **kwargs: Any
    ) -> FlowyardClient:
        """A client for a credentials file (``None``: the default file, see :class:`Credentials`).

        ``url`` overrides the file's URL; ``kwargs`` are the keyword arguments
        of the constructor (``api_version``, ``transport``, ``http``, ...).
        """
        return cls.for_credentials(Credentials.load(path), url=url, **kwargs)

    @classmethod
    def for_credentials(
        cls, credentials: Credentials, *, url: str | None = None, **kwargs: Any
    ) -> FlowyardClient:
        """A client acting as ``credentials``; ``url`` overrides their URL."""
        return cls(
            url or credentials.url,
            credentials.org_id,
            credentials.user_id,
            credentials.access_key,
            credentials.secret_key,
            **kwargs,
        )

    @property
    def url(self) -> str:
        return self._url

    @property
    def api_version(self) -> ApiVersion:
        return self._api_version

    @property
    def auth(self) -> ApimAuth | None:
        """The request signer, None in no-auth mode."""
        return self._auth

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> FlowyardClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"FlowyardClient(url={self._url!r}, user_id={self._user_id!r}, api_version={self._api_version!r})"
        )

    # -- the one request path -------------------------------------------------------------------------

    def _call(
        self,
        method: Method,
        resource: Resource,
        action: str,
        query: Mapping[str, QueryValue | None] | None = None,
        body: Mapping[str, Any] | None = None,
        *,
        as_user: bool = True,
    ) -> Any:
        """Send one API request and return the envelope's ``data``.

        ``None`` query values are left out. ``as_user`` adds ``userId`` and
        ``orgId`` (every API but the two ``time`` ones).
        """
        params: list[tuple[str, str]] = [("action", action)]
        params.extend((key, str(value)) for key, value in (query or {}).items() if value is not None)
        if as_user:
            params.extend((("userId", self._user_id), ("orgId", self._org_id)))
        headers = {"Accept": "application/json"}
        content: bytes | None = None
        if body is not None:
            content = encode_body(body)
            headers["Content-Type"] = JSON_CONTENT_TYPE
        try:
            request = self._http.build_request(
                method, f"{self._prefix}/{resource}", params=tuple(params), content=content, headers=headers
            )
            response = self._http.send(request, auth=self._auth)
        except httpx.InvalidURL as exc:
            raise ConnectionFailedError(f"invalid server URL {self._url!r}: {exc}") from exc
        except httpx.RequestError as exc:
            raise ConnectionFailedError(
                f"could not reach the Flowyard server at {self._url} ({type(exc).__name__}: {exc}); "
                "is it running, and is the URL right?"
            ) from exc
        return unwrap(response, self._api_version)

    def _first_page(self, page_no: int | None) -> int:
        return FIRST_PAGE[self._api_version] if page_no is None else page_no

    # -- flows ----------------------------------------------------------------------------------------

    def import_flow(
        self,
        flow_json: Mapping[str, Any],
        *,
        flow_name: str,
        dir_id: str,
        desc: str = "",
        flow_id: int | None = None,
    ) -> int:
        """Import Flow: create a flow named ``flow_name`` in directory ``dir_id`` from a FlowDefinition.

        ``flow_json`` is what :meth:`export_flow` returns. ``flow_id`` asks for
        that id; the server allocates another when it is taken. Returns the
        new flow's id.
        """
        body: dict[str, Any] = {"flowName": flow_name, "desc": desc, "dirId": dir_id, "flowJson": flow_json}
        if flow_id is not None:
            body["flowId"] = flow_id
        return int_field(self._call("POST", "flows", "import", body=body), "flowId", "Import Flow")

    def export_flow(self, flow_id: int) -> dict[str, Any]:
        """Export Flow: the portable FlowDefinition of a flow (what :meth:`import_flow` takes)."""
        return expect_dict(self._call("GET", "flows", "export", {"flowId": flow_id}), "Export Flow")

    def get_flow(self, flow_id: int) -> dict[str, Any]:
        """Get Flow: the stored flow (FlowDetail, with ``graph`` and the caller's rights)."""
        return expect_dict(self._call("GET", "flows", "get", {"flowId": flow_id}), "Get Flow")

    def load_flow_for_edit(self, flow_id: int) -> dict[str, Any]:
        """Load Flow For Edit: the flow's FlowDetail as an editable draft, for :meth:`save_flow`."""
        return expect_dict(
            self._call("GET", "flows", "loadForEdit", {"flowId": flow_id}), "Load Flow For Edit"
        )

    def save_flow(self, body: Mapping[str, Any]) -> int:
        """Save Flow: overwrite a flow from its edit model (``id``, ``name``, ``freq``, ``tasks``, ...).

        ``body`` is sent as it is (spec 3.18). Returns the saved flow's id.
        """
        return int_field(self._call("POST", "flows", "save", body=body), "flowId", "Save Flow")

    def move_flow(self, flow_id: int, dir_id: str) -> None:
        """Move Flow (a Flowyard extension, not on EnOS): put the flow into directory ``dir_id``."""
        self._call("POST", "flows", "move", body={"flowId": flow_id, "dirId": dir_id})

    def search_flows(
        self,
        expression: str = "",
        page_no: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sorters: Sequence[Sorter] = (),
    ) -> list[dict[str, Any]]:
        """Search Flow: one page of ``{flowId, flowName}`` over every flow of the OU.

        ``expression`` matches flow ids and names as a substring. ``page_no``
        defaults to the first page of the API version (1 on V2.1, 0 on V2.0);
        ``sorters`` are ``(field, "ASC" | "DESC")`` pairs, e.g.
        ``("update_time", "DESC")``.
        """
        body = {
            "expression": expression,
            "pagination": pagination(self._first_page(page_no), page_size, sorters),
        }
        return expect_list(self._call("POST", "flows", "search", body=body), "Search Flow")

    def get_my_flows(self, expression: str | None = None) -> list[dict[str, Any]]:
        """Get My Flow: ``{flowId, flowName, cycle, editable}`` of the flows related to the user.

        ``expression`` filters by substring of id or name; it travels as
        ``expression`` on V2.1 and ``searchValue`` on V2.0.
        """
        name = "expression" if self._api_version == "v2.1" else "searchValue"
        return expect_list(self._call("GET", "flows", "getMyFlow", {name: expression}), "Get My Flow")

    def delete_flow(self, flow_id: int) -> None:
        """Delete Flow (a GET, as in EnOS): remove the flow and its instances."""
        self._call("GET", "flows", "delete", {"flowId": flow_id})

    def enable_flow(self, flow_id: int) -> None:
        """Enable Flow: resume scheduling (``active`` = 1)."""
        self._call("POST", "flows", "enable", body={"flowId": flow_id})

    def disable_flow(self, flow_id: int) -> None:
        """Disable Flow: pause scheduling (``active`` = 0)."""
        self._call("POST", "flows", "disable", body={"flowId": flow_id})

    # -- directories and time -------------------------------------------------------------------------

    def create_directory(self, parent_id: str, dir_name: str) -> str:
        """Create Directory: a sub-directory of ``parent_id``; returns the new directory's id."""
        data = self._call("POST", "directories", "create", body={"parentId": parent_id, "dirName": dir_name})
        return str_field(data, "dirId", "Create Directory")

    def list_directories(self) -> list[dict[str, Any]]:
        """List Workflow Directories: the OU's tree (root titled ``"Workflow"``), flows as leaves."""
        return expect_list(self._call("GET", "directories", "listWorkFlowDirs"), "List Workflow Directories")

    def get_current_time(self) -> int:
        """Get Current Time: the server clock as Unix epoch milliseconds."""
        data = self._call("GET", "time", "getCurrentTime", as_user=False)
        if isinstance(data, bool) or not isinstance(data, int):
            raise unexpected("Get Current Time", data)
        return data

    def get_time_zone(self) -> str:
        """Get Time Zone: the server's zone as EnOS writes it, e.g. ``"GMT+8"``."""
        return str_field(self._call("GET", "time", "getTimeZone", as_user=False), "timezone", "Get Time Zone")

    # -- runs -----------------------------------------------------------------------------------------

    def trigger_flow(self, flow_id: int, trigger_time_ms: int) -> str:
        """Trigger Flow: run the whole flow once with ``trigger_time_ms`` as its time base.

        Returns the new flow instance id.
        """
        body = {"flowId": flow_id, "triggerTime": trigger_time_ms}
        return str_field(self._call("POST", "flows", "trigger", body=body), "flowInstanceId", "Trigger Flow")

    def trigger_flow_from_task(self, flow_id: int, task_id: int, trigger_time_ms: int) -> str:
        """Trigger Flow From Task (V2.1 only): run ``task_id`` and its downstream tasks once.

        Returns the new flow instance id.
        """
        body = {"flowId": flow_id, "taskId": task_id, "triggerTime": trigger_time_ms}
        data = self._call("POST", "flows", "triggerFromTask", body=body)
        return str_field(data, "flowInstanceId", "Trigger Flow From Task")

    def update_and_trigger_flow(
        self, flow_id: int, trigger_time_ms: int, parameters: Sequence[Mapping[str, str]]
    ) -> str:
        """Update And Trigger Flow: run the flow once with ``parameters`` (``[{key, value}]``) overridden.

        The stored flow keeps its parameters. Returns the new flow instance id.
        """
        body = {
            "flowId": flow_id,
            "triggerTime": trigger_time_ms,
            "parameters": [dict(p) for p in parameters],
        }
        data = self._call("POST", "flows", "updateAndTrigger", body=body)
        return str_field(data, "flowInstanceId", "Update And Trigger Flow")

    def cancel_flow_instance(self, flow_instance_id: str) -> None:
        """Cancel Flow Instance: stop a flow instance."""
        self._call("POST", "flowInstances", "cancel", body={"flowInstId": flow_instance_id})

    def get_flow_instance(self, flow_instance_id: str) -> dict[str, Any]:
        """Get Flow Instance: one FlowInstance, with its graph and per-task status."""
        data = self._call("GET", "flowInstances", "get", {"flowInstId": flow_instance_id})
        return expect_dict(data, "Get Flow Instance")

    def get_task_instance(self, task_instance_id: str) -> dict[str, Any]:
        """Get Task Instance (V2.1 only): one TaskInstance."""
        data = self._call("GET", "taskInstances", "get", {"taskInstId": task_instance_id})
        return expect_dict(data, "Get Task Instance")

    def get_task_instance_log(self, task_instance_id: str, max_length: int | None = None) -> str:
        """Get Task Instance Log: the log text, at most ``max_length`` characters (server default 2^20)."""
        query = {"taskInstId": task_instance_id, "maxLength": max_length}
        return str_field(self._call("GET", "taskInstances", "getLog", query), "log", "Get Task Instance Log")

    def list_flow_instances(
        self,
        *,
        flow_type: int,
        from_trigger_time_ms: int,
        to_trigger_time_ms: int,
        status: str | Sequence[int] = "",
        owner: str = "",
        expression: str = "",
        page_no: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sorters: Sequence[Sorter] = (),
    ) -> dict[str, Any]:
        """List Flow Instances: ``{"flowInsts": [...], "count": n}``, one page.

        Filters: instances of scheduling type ``flow_type`` (0 manual,
        1 periodic, 2 temporary) triggered in ``[from, to)``; ``status`` as
        FlowInstanceStatus codes (a sequence or the EnOS ``"1,2"`` string,
        empty = any); ``owner`` (empty = any); ``expression`` matching
        instance id or flow name. Paging as in :meth:`search_flows`.
        """
        body = {
            "type": flow_type,
            "fromTriggerTime": from_trigger_time_ms,
            "toTriggerTime": to_trigger_time_ms,
            "status": status if isinstance(status, str) else ",".join(str(code) for code in status),
            "owner": owner,
            "expression": expression,
            "pagination": pagination(self._first_page(page_no), page_size, sorters),
        }
        return expect_dict(self._call("POST", "flowInstances", "search", body=body), "List Flow Instances")
