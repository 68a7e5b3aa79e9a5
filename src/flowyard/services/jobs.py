"""DataWorks workflow use cases: asynchronous import, job status, get, list and delete.

Each public method is one transaction; ``now`` arrives as an argument. Jobs are durable rows
(:mod:`flowyard.store.jobs`). :class:`JobRunner` is the background thread that runs the jobs this
process accepted, one at a time; :meth:`WorkflowSpecService.recover` (called before the runner
starts) ends every job a stopped server left ``Running`` as ``Fail`` with :data:`INTERRUPTED`, so
a client never polls a job forever — it re-submits instead.

Import semantics: the workflow id (``spec.workflows[0].id``) names the flow within the project.
A known id replaces that flow's definition in place (same flow id; tasks keep their ids by name;
a task another flow depends on cannot be removed); a missing or unknown id creates a flow in the
organisation's root directory, owned by every member of the organisation (the project is
organisation-wide). The whole import is one transaction: it applies completely or
not at all. A flow name used by another flow of the organisation fails the job.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.flows import Flow, Placement, TaskDefinition
from flowyard.domain.identity import Application
from flowyard.domain.validation import validate_definition
from flowyard.errors import FlowyardError, InvalidParameterError, StateError
from flowyard.flowspec import apply_workflow, dumps, new_document, parse, to_workflow
from flowyard.services.workflow_specs import to_definition, to_workflow_spec
from flowyard.store import counters
from flowyard.store import directories as dir_store
from flowyard.store import flows as flow_store
from flowyard.store import identity as identity_store
from flowyard.store import jobs as job_store
from flowyard.store import projects as project_store
from flowyard.store import specs as spec_store
from flowyard.store.auth import use_nonce
from flowyard.store.db import transaction

log = logging.getLogger("flowyard.jobs")

INTERRUPTED = "interrupted: the server stopped while the job ran; submit the import again"
IMPORTER = "dataworks-import"
PROJECT_NAME = "default"


class WorkflowSpecService:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    # --- callers and projects -------------------------------------------------

    def app_of(self, access_key: str) -> Application | None:
        with transaction(self._sessions, read_only=True) as session:
            return identity_store.get_app(session, access_key)

    def nonce_seen(self, nonce: str, expires_at: datetime) -> bool:
        """Record a request-signature nonce; True if it was used before (a replay)."""
        with transaction(self._sessions) as session:
            return not use_nonce(session, "acs", nonce, expires_at)

    def project_of(self, org_id: str, now: datetime) -> int:
        """The organisation's project id, created on first use."""
        with transaction(self._sessions) as session:
            return project_store.ensure_project(session, org_id, PROJECT_NAME, now)

    def org_of_project(self, project_id: int) -> str | None:
        with transaction(self._sessions, read_only=True) as session:
            found = project_store.get(session, project_id)
        return None if found is None else found[1]

    def org_id_of(self, project_id: int) -> str:
        org_id = self.org_of_project(project_id)
        if org_id is None:
            raise InvalidParameterError(f"project {project_id} does not exist")
        return org_id

    # --- jobs ----------------------------------------------------------------

    def submit_import(self, project_id: int, spec: str, now: datetime) -> job_store.Job:
        """Record a ``Running`` import job; the spec must at least parse (else 400 InvalidParameter)."""
        parse(spec)
        with transaction(self._sessions) as session:
            return job_store.insert(session, str(uuid.uuid4()).upper(), project_id, "Create", spec, now)

    def job(self, job_id: str) -> job_store.Job:
        with transaction(self._sessions, read_only=True) as session:
            found = job_store.get(session, job_id)
        if found is None:
            raise InvalidParameterError(f"Not Found: no job {job_id}")
        return found

    def recover(self, now: datetime) -> int:
        with transaction(self._sessions) as session:
            return job_store.fail_running(session, INTERRUPTED, now)

    def run_job(self, job_id: str, org_id_of: Callable[[int], str], now: Callable[[], datetime]) -> None:
        """Run one job to ``Success`` or ``Fail``; never raises for a bad document."""
        job = self.job(job_id)
        if job.completed:
            return
        try:
            workflow_id, warnings = self._import(job.project_id, org_id_of(job.project_id), job.spec, now())
        except FlowyardError as exc:
            status, error, response = job_store.FAIL, exc.message, ""
        except Exception as exc:  # a job must end, whatever went wrong
            log.exception("import job %s failed", job_id)
            status, error, response = job_store.FAIL, f"internal error: {type(exc).__name__}", ""
        else:
            status, error, response = job_store.SUCCESS, "", workflow_id
            if warnings:
                error = "; ".join(warnings)
        with transaction(self._sessions) as session:
            job_store.finish(session, job_id, status, error=error, response=response, now=now())

    # --- the import itself ---------------------------------------------------

    def _import(self, project_id: int, org_id: str, text: str, now: datetime) -> tuple[str, list[str]]:
        doc = parse(text)
        wf = to_workflow(doc)
        conversion = to_definition(wf)
        definition = conversion.definition
        validate_definition(definition)
        with transaction(self._sessions) as session:
            known = spec_store.by_workflow_id(session, project_id, wf.id) if wf.id else None
            stored = flow_store.load_flow(session, known.flow_id) if known is not None else None
            clash = flow_store.find_by_name(session, org_id, definition.name)
            if clash is not None and (stored is None or clash.id != stored.id):
                raise InvalidParameterError(
                    f"a flow named '{definition.name}' already exists (flow {clash.id}) for another workflow"
                )
            active = 1 if conversion.active else 0
            # The project is organisation-wide, so every member owns what was imported into it.
            members = sorted(user.username for user in identity_store.list_users(session, org_id))
            definition = replace(definition, owners=";".join(members))
            if stored is None:
                flow_id = counters.allocate(
                    session, counters.FLOW_IDS, lambda n: flow_store.flow_id_taken(session, n)
                )
                flow = Flow(
                    id=flow_id,
                    org_id=org_id,
                    dir_id=dir_store.ensure_root(session, org_id, now).id,
                    definition=definition,
                    task_ids=self._task_ids(session, definition.tasks, {}),
                    task_placements=tuple(Placement() for _ in definition.tasks),
                    links=(),
                    active=active,
                    creator=IMPORTER,
                    update_user=IMPORTER,
                    created_at=now,
                    updated_at=now,
                )
                flow_store.insert_flow(session, flow)
            else:
                old_ids = dict(zip((t.name for t in stored.definition.tasks), stored.task_ids, strict=True))
                task_ids = self._task_ids(session, definition.tasks, old_ids)
                removed = set(stored.task_ids) - set(task_ids)
                users = [d for d in flow_store.task_dependents(session, removed) if d[0] != stored.id]
                if users:
                    raise StateError(f"task {users[0][2]} cannot be removed: flow {users[0][0]} relies on it")
                flow = Flow(
                    id=stored.id,
                    org_id=org_id,
                    dir_id=stored.dir_id,
                    definition=definition,
                    task_ids=task_ids,
                    task_placements=tuple(Placement() for _ in definition.tasks),
                    links=(),
                    active=active,
                    creator=stored.creator,
                    update_user=IMPORTER,
                    created_at=stored.created_at,
                    updated_at=now,
                )
                flow_store.replace_flow(session, flow)
            workflow_id = wf.id or str(flow.id)
            spec_store.save(session, spec_store.StoredSpec(flow.id, project_id, workflow_id, text))
        return workflow_id, list(conversion.warnings)

    @staticmethod
    def _task_ids(
        session: Session, tasks: tuple[TaskDefinition, ...], old: dict[str, int]
    ) -> tuple[int, ...]:
        ids: list[int] = []
        for task in tasks:
            name = task.name
            ids.append(
                old[name]
                if name in old
                else counters.allocate(
                    session, counters.TASK_IDS, lambda n: flow_store.task_id_taken(session, n)
                )
            )
        return tuple(ids)

    # --- reading and deleting --------------------------------------------------

    def _resolve(
        self, session: Session, project_id: int, org_id: str, ref: str
    ) -> tuple[Flow, str, str | None]:
        known = spec_store.by_workflow_id(session, project_id, ref)
        if known is not None:
            flow = flow_store.load_flow(session, known.flow_id)
            if flow is not None:
                return flow, known.workflow_id, known.document
        if ref.isdigit() and len(ref) <= 18:
            flow = flow_store.load_flow(session, int(ref))
            if flow is not None and flow.org_id == org_id:
                record = spec_store.by_flow_id(session, flow.id)
                if record is None:
                    return flow, ref, None
        raise InvalidParameterError(f"Not Found: no workflow {ref} in project {project_id}")

    def get(self, project_id: int, org_id: str, ref: str) -> tuple[Flow, str, str]:
        """``(flow, workflow id, FlowSpec text)`` of the workflow ``ref`` (its id) in the project."""
        with transaction(self._sessions, read_only=True) as session:
            flow, workflow_id, text = self._resolve(session, project_id, org_id, ref)
        if text is None:
            return flow, workflow_id, dumps(new_document(to_workflow_spec(flow, workflow_id, None)))
        doc = parse(text)
        current = to_workflow_spec(flow, workflow_id, to_workflow(doc))
        return flow, workflow_id, dumps(apply_workflow(doc, current))

    def list(self, project_id: int, org_id: str) -> list[tuple[Flow, str]]:
        """Every flow of the organisation with its workflow id, by flow id."""
        result: list[tuple[Flow, str]] = []
        with transaction(self._sessions, read_only=True) as session:
            for summary in flow_store.list_org(session, org_id):
                flow = flow_store.load_flow(session, summary.id)
                if flow is None:
                    continue
                record = spec_store.by_flow_id(session, flow.id)
                result.append((flow, record.workflow_id if record is not None else str(flow.id)))
        return sorted(result, key=lambda item: item[0].id)

    def delete(self, project_id: int, org_id: str, ref: str) -> None:
        with transaction(self._sessions) as session:
            flow, _, _ = self._resolve(session, project_id, org_id, ref)
            if flow_store.dependents(session, flow.id):
                raise StateError("This workflow is relied on by other workflows and cannot be deleted.")
            flow_store.delete_flow(session, flow.id)


class JobRunner:
    """One daemon thread running accepted jobs in order; :meth:`stop` waits for the current one."""

    def __init__(
        self, service: WorkflowSpecService, org_id_of: Callable[[int], str], now: Callable[[], datetime]
    ) -> None:
        self._service = service
        self._org_id_of = org_id_of
        self._now = now
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def start(self) -> None:
        self._service.recover(self._now())
        self._thread = threading.Thread(target=self._loop, name="flowyard-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def drain(self) -> None:
        """Run every queued job in the calling thread (tests without a started runner)."""
        while not self._queue.empty():
            job_id = self._queue.get_nowait()
            if job_id is not None:
                self._service.run_job(job_id, self._org_id_of, self._now)

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._service.run_job(job_id, self._org_id_of, self._now)
            except Exception:  # keep serving later jobs
                log.exception("job %s could not be finished", job_id)
