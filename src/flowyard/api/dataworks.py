"""The DataWorks OpenAPI 2024-05-18 face: one RPC endpoint at ``/`` (GET or POST).

The operation is the ``x-acs-action`` header (or ``Action`` parameter), the version
``x-acs-version`` (or ``Version``) must be ``2024-05-18``; parameters come from the query string and,
for POST, the form-encoded body. Every call is checked with
:func:`flowyard.dataworks.signature.verify` against the secret of a Flowyard application, the
nonce recorded once (scope ``acs``) for twice the allowed clock skew; ``settings.auth = False``
skips the check (the project alone then names the organisation).

Project mapping: ``ProjectId`` is the id of the one project of the application's organisation
(``projectId`` in credentials.json for the bootstrap organisation; created on first use for any
other). Another or unknown project is ``Forbidden.Access`` (403); a non-numeric one
``InvalidParameter`` (400).

Signed-in browsers (the console) call this face with their session cookie, the ``X-CSRF-Token``
header and the organisation in ``X-Flowyard-Org`` instead of a signature
(:class:`~flowyard.api.sessions.ConsoleAccess`): only ImportWorkflowDefinition, GetJobStatus and
GetWorkflowDefinition, the latter for flows the user may read; ``ProjectId`` defaults to the
organisation's project.

Operations: ImportWorkflowDefinition (→ ``AsyncJob``; ``DryRun=true`` validates and converts,
reports in the job, saves nothing), GetJobStatus (→ ``JobStatus``), GetWorkflowDefinition
(``IncludeScriptContent=false`` leaves the nodes' script content out; absent means true, which is
what Flowyard's own client relies on), ListWorkflowDefinitions (paged in SQL: ``PageNumber`` >= 1,
``PageSize`` 1..100), DeleteWorkflowDefinition. Boolean parameters are ``true``/``false`` in any
case. Errors render through :func:`flowyard.dataworks.envelope.render_error` as
``{RequestId, Code, Message}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flowyard.api.limits import check_query, load_json
from flowyard.api.sessions import COOKIE_NAME, ConsoleAccess, NotSignedInError, check_csrf, is_console_request
from flowyard.clock import Clock
from flowyard.dataworks import DEFAULT_MAX_SKEW, dumps, new_request_id, render_error, success_body, verify
from flowyard.dataworks.envelope import CONTENT_TYPE, error_body
from flowyard.domain.flows import Flow, FlowType
from flowyard.domain.jobs import Job
from flowyard.domain.permissions import Caller
from flowyard.errors import InvalidParameterError, LockedError, NoPrivilegeError
from flowyard.services.dataworks import WorkflowSpecService
from flowyard.services.jobs import JobRunner

VERSION = "2024-05-18"
MAX_PAGE_SIZE = 100
#: Keeps ``(PageNumber - 1) * PageSize`` a valid SQL OFFSET on every backend.
MAX_PAGE_NUMBER = 2**31 - 1
WORKFLOW_TYPES = {"CycleWorkflow": True, "ManualWorkflow": False}
CONSOLE_ACTIONS = frozenset({"ImportWorkflowDefinition", "GetJobStatus", "GetWorkflowDefinition"})
CONSOLE_ORG_HEADER = "x-flowyard-org"


def _ms(when: datetime | None) -> int:
    return 0 if when is None else int(when.timestamp() * 1000)


def async_job(job: Job) -> dict[str, Any]:
    """The SDK's ``AsyncJob``: ``Completed`` a bool, ``CreateTime`` epoch ms as a number."""
    return {
        "Id": job.id,
        "Type": job.type,
        "Status": job.status,
        "Progress": job.progress,
        "Completed": job.completed,
        "CreateTime": _ms(job.created_at),
        "Error": job.error,
        "Response": job.response,
    }


def job_status(job: Job) -> dict[str, Any]:
    """The SDK's ``JobStatus``: ``Completed`` "True"/"False" and ``CreateTime`` as strings."""
    return {
        "JobId": job.id,
        "JobType": job.type,
        "Status": job.status,
        "Completed": "True" if job.completed else "False",
        "Error": job.error,
        "CreateTime": str(_ms(job.created_at)),
        "Progress": job.progress,
        "Response": job.response,
    }


def _summary(flow: Flow, workflow_id: str, project_id: int) -> dict[str, Any]:
    periodic = flow.definition.type == FlowType.PERIODIC
    return {
        "Id": workflow_id,
        "Name": flow.name,
        "Owner": flow.creator,
        "ProjectId": project_id,
        "Type": "CycleWorkflow" if periodic else "ManualWorkflow",
        "Description": flow.definition.desc,
        "CreateTime": _ms(flow.created_at),
        "ModifyTime": _ms(flow.updated_at),
        "Script": {"Path": flow.name, "Runtime": {"Command": "WORKFLOW" if periodic else "MANUAL_WORKFLOW"}},
    }


class _UnknownOperationError(Exception):
    """An unknown action or version: not a Flowyard error, rendered with its own code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class DataWorksEndpoint:
    def __init__(
        self,
        service: WorkflowSpecService,
        runner: JobRunner,
        clock: Clock,
        *,
        auth: bool,
        console: ConsoleAccess | None = None,
    ) -> None:
        self._service = service
        self._runner = runner
        self._clock = clock
        self._auth = auth
        self._console = console

    async def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        try:
            body = await request.body()
            payload = await run_in_threadpool(self._handle, request, body)
        except _UnknownOperationError as exc:
            status = 400 if exc.code == "InvalidVersion" else 404
            content = dumps(error_body(exc.code, exc.message, request_id=request_id))
            return Response(content, status_code=status, media_type=CONTENT_TYPE)
        except Exception as exc:
            error = render_error(exc, request_id=request_id)
            return Response(dumps(error.body), error.status, error.headers, media_type=CONTENT_TYPE)
        return Response(dumps(success_body(payload, request_id=request_id)), media_type=CONTENT_TYPE)

    def _handle(self, request: Request, body: bytes) -> dict[str, Any]:
        query = parse_qsl(request.url.query, keep_blank_values=True)
        params = dict(query)
        if body and "form" in request.headers.get("content-type", "form"):
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        check_query(params.items())  # PostgreSQL text cannot hold a NUL: 400 InvalidParameter naming it
        action = request.headers.get("x-acs-action") or params.get("Action", "")
        version = request.headers.get("x-acs-version") or params.get("Version", "")
        if version != VERSION:
            raise _UnknownOperationError(
                "InvalidVersion", f"Specified version {version!r} is not valid; use {VERSION}."
            )
        handler = self._actions().get(action)
        if handler is None:
            raise _UnknownOperationError("InvalidAction.NotFound", f"Specified api {action!r} is not found.")
        now = self._clock.now()
        if self._console is not None and is_console_request(request):
            org_id: str | None = self._console_org(self._console, request, params, action, now)
        else:
            org_id = self._caller_org(request, query, body, now) if self._auth else None
        return handler(params, org_id, now)

    def _console_org(
        self, console: ConsoleAccess, request: Request, params: dict[str, str], action: str, now: datetime
    ) -> str:
        signed = console.sessions.resolve(request.cookies.get(COOKIE_NAME, ""), now)
        if signed is None:
            raise NotSignedInError()
        check_csrf(request, signed)
        org_id = request.headers.get(CONSOLE_ORG_HEADER, "")
        if not signed.user.is_member_of(org_id):
            raise NoPrivilegeError(f"Forbidden: the user is not a member of organization {org_id!r}.")
        if action not in CONSOLE_ACTIONS:
            raise NoPrivilegeError(f"Forbidden: {action} is not available to the console.")
        user = signed.user
        if action == "ImportWorkflowDefinition" and user.locked:
            raise LockedError()
        if action == "GetWorkflowDefinition":
            ref = params.get("Id", "")
            if not (ref.isascii() and ref.isdigit() and len(ref) <= 18):
                raise InvalidParameterError("Id must be a flow id when the console asks.")
            console.check_read(Caller(user.id, user.username, org_id, user.locked), int(ref))
            params["Id"] = self._service.workflow_ref(int(ref))
        params.setdefault("ProjectId", str(self._service.project_of(org_id, now)))
        return org_id

    def _caller_org(self, request: Request, query: list[tuple[str, str]], body: bytes, now: datetime) -> str:
        def secret_for(access_key: str) -> str | None:
            app = self._service.app_of(access_key)
            return None if app is None else app.secret_key

        access_key = verify(
            method=request.method,
            path=request.url.path,
            query=query,
            headers=request.headers,
            body=body,
            secret_for=secret_for,
            now=now,
            max_skew=DEFAULT_MAX_SKEW,
            nonce_seen=lambda nonce: self._service.nonce_seen(nonce, now + 2 * DEFAULT_MAX_SKEW),
        )
        app = self._service.app_of(access_key)
        assert app is not None
        return app.org_id

    def _actions(self) -> Mapping[str, Callable[[dict[str, str], str | None, datetime], dict[str, Any]]]:
        return {
            "ImportWorkflowDefinition": self._import,
            "GetJobStatus": self._job_status,
            "GetWorkflowDefinition": self._get,
            "ListWorkflowDefinitions": self._list,
            "DeleteWorkflowDefinition": self._delete,
        }

    def _project(self, params: Mapping[str, str], org_id: str | None, now: datetime) -> tuple[int, str]:
        """The checked ``(ProjectId, org id)`` of the call."""
        raw = params.get("ProjectId", "").strip()
        if not raw:
            raise InvalidParameterError("ProjectId is mandatory for this action.")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise InvalidParameterError(f"ProjectId must be a positive integer, got {raw!r}.")
        project_id = int(raw)
        if org_id is not None:
            if self._service.project_of(org_id, now) != project_id:
                raise NoPrivilegeError(
                    f"Forbidden: project {project_id} does not belong to this application."
                )
            return project_id, org_id
        owner = self._service.org_of_project(project_id)
        if owner is None:
            raise NoPrivilegeError(f"Forbidden: project {project_id} does not exist.")
        return project_id, owner

    @staticmethod
    def _required(params: Mapping[str, str], name: str) -> str:
        value = params.get(name, "")
        if not value:
            raise InvalidParameterError(f"{name} is mandatory for this action.")
        return value

    @staticmethod
    def _flag(params: Mapping[str, str], name: str, default: bool) -> bool:
        raw = params.get(name, "").strip().lower()
        if not raw:
            return default
        if raw not in ("true", "false"):
            raise InvalidParameterError(f"{name} must be true or false, got {params[name]!r}.")
        return raw == "true"

    @staticmethod
    def _whole(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
        raw = params.get(name, "").strip()
        if not raw:
            return default
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not low <= int(raw) <= high:
            raise InvalidParameterError(f"{name} must be an integer from {low} to {high}, got {raw!r}.")
        return int(raw)

    def _import(self, params: dict[str, str], org_id: str | None, now: datetime) -> dict[str, Any]:
        project_id, _ = self._project(params, org_id, now)
        dry_run = self._flag(params, "DryRun", False)
        spec = self._required(params, "Spec")
        if spec.lstrip().startswith("{"):
            # The same JSON limits as the EnOS face (depth, lone surrogates, NUL) before the document
            # is stored; text that is not JSON at all is left for the job to report.
            try:
                load_json(spec, "Spec")
            except InvalidParameterError:
                raise
            except ValueError:
                pass
        job = self._service.submit_import(project_id, spec, now, owner=self._runner.owner, dry_run=dry_run)
        self._runner.submit(job.id)
        return {"AsyncJob": async_job(job)}

    def _job_status(self, params: dict[str, str], org_id: str | None, now: datetime) -> dict[str, Any]:
        job = self._service.job(self._required(params, "JobId"))
        if org_id is not None and self._service.org_of_project(job.project_id) != org_id:
            raise InvalidParameterError(f"Not Found: no job {job.id}")
        return {"JobStatus": job_status(job)}

    def _get(self, params: dict[str, str], org_id: str | None, now: datetime) -> dict[str, Any]:
        project_id, owner = self._project(params, org_id, now)
        with_scripts = self._flag(params, "IncludeScriptContent", True)
        flow, workflow_id, text = self._service.get(
            project_id, owner, self._required(params, "Id"), include_script_content=with_scripts
        )
        summary = _summary(flow, workflow_id, project_id)
        return {
            "WorkflowDefinition": {
                key: summary[key] for key in ("Id", "Name", "Owner", "ProjectId", "CreateTime", "ModifyTime")
            }
            | {"Spec": text, "WorkflowId": flow.id}
        }

    def _list(self, params: dict[str, str], org_id: str | None, now: datetime) -> dict[str, Any]:
        project_id, owner = self._project(params, org_id, now)
        page = self._whole(params, "PageNumber", 1, 1, MAX_PAGE_NUMBER)
        size = self._whole(params, "PageSize", 10, 1, MAX_PAGE_SIZE)
        wanted_type = params.get("Type", "")
        total, flows = 0, list[tuple[Flow, str]]()
        # An unknown Type matches no workflow (an empty page, as before paging moved into SQL).
        if not wanted_type or wanted_type in WORKFLOW_TYPES:
            total, flows = self._service.list(
                owner,
                periodic=WORKFLOW_TYPES.get(wanted_type),
                name=params.get("Name", ""),
                offset=(page - 1) * size,
                limit=size,
            )
        return {
            "PagingInfo": {
                "PageNumber": page,
                "PageSize": size,
                "TotalCount": total,
                "WorkflowDefinitions": [_summary(flow, wid, project_id) for flow, wid in flows],
            }
        }

    def _delete(self, params: dict[str, str], org_id: str | None, now: datetime) -> dict[str, Any]:
        project_id, owner = self._project(params, org_id, now)
        self._service.delete(project_id, owner, self._required(params, "Id"))
        return {"Success": True}


def endpoint(
    service: WorkflowSpecService,
    runner: JobRunner,
    clock: Clock,
    *,
    auth: bool,
    console: ConsoleAccess | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    return DataWorksEndpoint(service, runner, clock, auth=auth, console=console).handle


__all__ = ["DataWorksEndpoint", "async_job", "endpoint", "job_status"]
