"""DataWorks workflow use cases: asynchronous import, job status, get, list and delete.

Each public method is one transaction (or a short series of them); ``now`` arrives as an argument.
Jobs are durable rows (:mod:`flowyard.store.jobs`).

Ownership: every process has an owner id (:func:`new_owner`). A job belongs to the process that
accepted it under a lease of :data:`LEASE`; :class:`JobRunner` renews the leases of its jobs every
:data:`HEARTBEAT_SECONDS` and, at start and on the same beat, takes over Running jobs whose lease
expired (their process died) and runs them again. Imports are idempotent on ids and a job's success
is written in the import's own transaction, guarded by the owner, so a job is applied at most once
even when two processes race for it. A job whose runs were cut short :data:`MAX_ATTEMPTS` times
ends as ``Fail`` (:data:`GAVE_UP`), so no job stays Running forever. Finished jobs are deleted
after :data:`RETENTION`.

Progress: 0 accepted, :data:`PROGRESS_STARTED` a run began, :data:`PROGRESS_CONVERTED` the document
parsed, converted and validated (``Type`` is now ``Create`` or ``Update``), 100 finished. A dry run
does everything an import does, reports the same result, then rolls the import back.

Import semantics: the workflow id (``spec.workflows[0].id``) names the flow within the project.
A known id replaces that flow's definition in place (same flow id; tasks keep their ids by name;
a task another flow depends on cannot be removed); a missing or unknown id creates a flow in the
organisation's root directory, owned by every member of the organisation (the project is
organisation-wide). The whole import is one transaction: it applies completely or
not at all. A flow name used by another flow of the organisation fails the job.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.flows import Flow, Placement, TaskDefinition
from flowyard.domain.identity import Application
from flowyard.domain.validation import validate_definition
from flowyard.errors import FlowyardError, InvalidParameterError, StateError
from flowyard.flowspec import (
    FlowSpecDocument,
    FlowSpecError,
    WorkflowSpec,
    apply_workflow,
    detect_layout,
    dumps,
    new_document,
    parse,
    to_workflow,
)
from flowyard.services.workflow_specs import Conversion, to_definition, to_workflow_spec
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

LEASE = timedelta(seconds=60)
HEARTBEAT_SECONDS = 20.0
RETENTION = timedelta(days=7)
MAX_ATTEMPTS = 3
PROGRESS_STARTED = 10
PROGRESS_CONVERTED = 50
GAVE_UP = "interrupted: the processes running this job stopped {attempts} times; submit the import again"
IMPORTER = "dataworks-import"
PROJECT_NAME = "default"


def new_owner() -> str:
    """A job owner id unique to this process: host, pid and a random tag (pids are reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class _Saved:
    job_type: str
    workflow_id: str


class _RollBackError(Exception):
    """Leaves the import transaction without committing: a dry run, or a job lost to another owner."""

    def __init__(self, saved: _Saved | None) -> None:
        super().__init__("rolled back")
        self.saved = saved


@dataclass(frozen=True, slots=True)
class Housekeeping:
    """What one :meth:`JobRunner.tick` did."""

    renewed: int
    taken_over: tuple[str, ...]
    failed: int
    purged: int


def _strip_node_scripts(doc: FlowSpecDocument) -> FlowSpecDocument:
    """``doc`` without the script content of the workflow's nodes (changes ``doc``)."""
    for raw in detect_layout(doc).workflow.get("nodes") or []:
        script = raw.get("script") if isinstance(raw, dict) else None
        if isinstance(script, dict):
            script.pop("content", None)
            script.pop("code", None)
    return doc


class WorkflowSpecService:
    def __init__(self, session_factory: sessionmaker[Session], *, lease: timedelta = LEASE) -> None:
        self._sessions = session_factory
        self._lease = lease

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

    def submit_import(
        self, project_id: int, spec: str, now: datetime, *, owner: str, dry_run: bool = False
    ) -> job_store.Job:
        """Record a ``Running`` import job of ``owner``; the spec must at least parse (else 400).

        ``Type`` is ``Update`` when the document's workflow id is already in the project, else
        ``Create``; the run confirms it.
        """
        doc = parse(spec)
        with transaction(self._sessions) as session:
            job_type = self._job_type(session, project_id, doc)
            return job_store.insert(
                session,
                str(uuid.uuid4()).upper(),
                project_id,
                job_type,
                spec,
                now,
                owner=owner,
                lease_until=now + self._lease,
                dry_run=dry_run,
            )

    def job(self, job_id: str) -> job_store.Job:
        with transaction(self._sessions, read_only=True) as session:
            found = job_store.get(session, job_id)
        if found is None:
            raise InvalidParameterError(f"Not Found: no job {job_id}")
        return found

    def renew(self, owner: str, now: datetime) -> int:
        with transaction(self._sessions) as session:
            return job_store.renew(session, owner, now + self._lease)

    def release(self, owner: str, now: datetime) -> int:
        with transaction(self._sessions) as session:
            return job_store.release(session, owner, now)

    def take_over_expired(self, owner: str, now: datetime) -> tuple[list[str], int]:
        """Make ``owner`` the owner of every Running job whose lease expired.

        Returns the ids to run and how many were failed instead (:data:`MAX_ATTEMPTS` reached).
        One transaction per job keeps write locks short; a job another process took first is skipped.
        """
        with transaction(self._sessions, read_only=True) as session:
            expired = job_store.expired_ids(session, now)
        taken: list[str] = []
        failed = 0
        for job_id in expired:
            with transaction(self._sessions) as session:
                job = job_store.take_over(session, job_id, owner, now, now + self._lease)
                if job is None:
                    continue
                if job.attempts >= MAX_ATTEMPTS:
                    reason = GAVE_UP.format(attempts=job.attempts)
                    job_store.finish(
                        session, job_id, owner, job_store.FAIL, error=reason, response="", now=now
                    )
                    failed += 1
                else:
                    taken.append(job_id)
        return taken, failed

    def purge(self, now: datetime, retention: timedelta = RETENTION) -> int:
        """Delete the jobs that finished more than ``retention`` before ``now``."""
        with transaction(self._sessions) as session:
            return job_store.purge(session, now - retention)

    def run_job(
        self, job_id: str, owner: str, org_id_of: Callable[[int], str], now: Callable[[], datetime]
    ) -> None:
        """Run ``owner``'s job to ``Success`` or ``Fail``; a job that is not (or no longer) its own is
        left alone. Never raises for a bad document.

        ``now`` is only ever called outside a transaction."""
        started = now()
        with transaction(self._sessions) as session:
            job = job_store.start(session, job_id, owner, PROGRESS_STARTED, started, started + self._lease)
        if job is None:
            return
        try:
            self._run_import(job, owner, org_id_of(job.project_id), now)
        except _RollBackError:
            log.warning("job %s was taken over by another process; this run is rolled back", job_id)
        except FlowyardError as exc:
            self._finish(job_id, owner, job_store.FAIL, error=exc.message, response="", now=now())
        except Exception as exc:  # a job must end, whatever went wrong
            log.exception("import job %s failed", job_id)
            self._finish(
                job_id,
                owner,
                job_store.FAIL,
                error=f"internal error: {type(exc).__name__}",
                response="",
                now=now(),
            )

    def _finish(
        self, job_id: str, owner: str, status: str, *, error: str, response: str, now: datetime
    ) -> None:
        with transaction(self._sessions) as session:
            job_store.finish(session, job_id, owner, status, error=error, response=response, now=now)

    # --- the import itself ---------------------------------------------------

    @staticmethod
    def _job_type(session: Session, project_id: int, doc: FlowSpecDocument) -> str:
        try:
            workflow_id = to_workflow(doc).id
        except FlowSpecError:
            return job_store.CREATE  # the run reports why
        known = spec_store.by_workflow_id(session, project_id, workflow_id) if workflow_id else None
        return job_store.UPDATE if known is not None else job_store.CREATE

    def _run_import(self, job: job_store.Job, owner: str, org_id: str, now: Callable[[], datetime]) -> None:
        """Convert, then save and finish in one transaction; a dry run saves, then rolls back."""
        doc = parse(job.spec)
        wf = to_workflow(doc)
        conversion = to_definition(wf)
        validate_definition(conversion.definition)
        converted_at = now()
        with transaction(self._sessions) as session:
            job_type = self._job_type(session, job.project_id, doc)
            if not job_store.advance(
                session, job.id, owner, progress=PROGRESS_CONVERTED, job_type=job_type, now=converted_at
            ):
                raise _RollBackError(None)
        warnings = "; ".join(conversion.warnings)
        saved_at = now()
        try:
            with transaction(self._sessions) as session:
                saved = self._save(session, job.project_id, org_id, job.spec, wf, conversion, saved_at)
                if job.dry_run:
                    raise _RollBackError(_Saved(saved.job_type, wf.id or ""))
                if not job_store.finish(
                    session,
                    job.id,
                    owner,
                    job_store.SUCCESS,
                    job_type=saved.job_type,
                    error=warnings,
                    response=saved.workflow_id,
                    now=saved_at,
                ):
                    raise _RollBackError(None)
        except _RollBackError as rolled_back:
            if rolled_back.saved is None:
                raise
            finished_at = now()
            with transaction(self._sessions) as session:
                job_store.finish(
                    session,
                    job.id,
                    owner,
                    job_store.SUCCESS,
                    job_type=rolled_back.saved.job_type,
                    error=warnings,
                    response=rolled_back.saved.workflow_id,
                    now=finished_at,
                )

    def _save(
        self,
        session: Session,
        project_id: int,
        org_id: str,
        text: str,
        wf: WorkflowSpec,
        conversion: Conversion,
        now: datetime,
    ) -> _Saved:
        definition = conversion.definition
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
            by_node = {
                t.node_id: tid
                for t, tid in zip(stored.definition.tasks, stored.task_ids, strict=True)
                if t.node_id
            }
            task_ids = self._task_ids(session, definition.tasks, old_ids, by_node)
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
        return _Saved(job_store.CREATE if stored is None else job_store.UPDATE, workflow_id)

    @staticmethod
    def _task_ids(
        session: Session,
        tasks: tuple[TaskDefinition, ...],
        old: dict[str, int],
        by_node: dict[str, int] | None = None,
    ) -> tuple[int, ...]:
        """Task ids for an import: a node keeps its task id by node id first (a node renamed in
        DataWorks stays the same task), then by name; anything else gets a new id."""
        by_node = by_node or {}
        ids: list[int] = []
        used: set[int] = set()
        for task in tasks:
            known = by_node.get(task.node_id) if task.node_id else None
            if known is None or known in used:
                known = old.get(task.name)
            if known is None or known in used:
                known = counters.allocate(
                    session, counters.TASK_IDS, lambda n: flow_store.task_id_taken(session, n)
                )
            used.add(known)
            ids.append(known)
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
        if ref.isascii() and ref.isdigit() and len(ref) <= 18:
            flow = flow_store.load_flow(session, int(ref))
            if flow is not None and flow.org_id == org_id:
                record = spec_store.by_flow_id(session, flow.id)
                if record is None:
                    return flow, ref, None
        raise InvalidParameterError(f"Not Found: no workflow {ref} in project {project_id}")

    def get(
        self, project_id: int, org_id: str, ref: str, *, include_script_content: bool = True
    ) -> tuple[Flow, str, str]:
        """``(flow, workflow id, FlowSpec text)`` of the workflow ``ref`` (its id) in the project.

        Without ``include_script_content`` the workflow's nodes come without ``script.content``.
        """
        with transaction(self._sessions, read_only=True) as session:
            flow, workflow_id, text = self._resolve(session, project_id, org_id, ref)
        if text is None:
            doc = new_document(to_workflow_spec(flow, workflow_id, None))
        else:
            stored = parse(text)
            doc = apply_workflow(stored, to_workflow_spec(flow, workflow_id, to_workflow(stored)))
        if not include_script_content:
            doc = _strip_node_scripts(doc)
        return flow, workflow_id, dumps(doc)

    def list(
        self, org_id: str, *, periodic: bool | None, name: str, offset: int, limit: int
    ) -> tuple[int, list[tuple[Flow, str]]]:
        """``(total, page)``: the organisation's flows with their workflow ids, by flow id, filtered
        by kind (``periodic``) and a case-insensitive name substring, ``limit`` from ``offset``."""
        with transaction(self._sessions, read_only=True) as session:
            page = spec_store.page_workflows(
                session, org_id, periodic=periodic, name=name, offset=offset, limit=limit
            )
            flows = [
                (flow_store.load_flow(session, flow_id), workflow_id) for flow_id, workflow_id in page.items
            ]
        return page.total, [(flow, workflow_id) for flow, workflow_id in flows if flow is not None]

    def delete(self, project_id: int, org_id: str, ref: str) -> None:
        with transaction(self._sessions) as session:
            flow, _, _ = self._resolve(session, project_id, org_id, ref)
            if flow_store.dependents(session, flow.id):
                raise StateError("This workflow is relied on by other workflows and cannot be deleted.")
            flow_store.delete_flow(session, flow.id)


class JobRunner:
    """Runs this process's jobs, one at a time, on a daemon thread; a second thread keeps the leases.

    :meth:`tick` is the periodic housekeeping (renew own leases, take over expired jobs, purge old
    ones); the heartbeat thread calls it every ``heartbeat_seconds`` and :meth:`start` once first.
    Tests drive :meth:`tick` and :meth:`drain` directly with an injected ``now``.
    """

    def __init__(
        self,
        service: WorkflowSpecService,
        org_id_of: Callable[[int], str],
        now: Callable[[], datetime],
        *,
        owner: str | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        retention: timedelta = RETENTION,
    ) -> None:
        self.owner = owner or new_owner()
        self._service = service
        self._org_id_of = org_id_of
        self._now = now
        self._heartbeat_seconds = heartbeat_seconds
        self._retention = retention
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def tick(self) -> Housekeeping:
        """Renew this owner's leases, queue the expired jobs it took over, purge old finished jobs."""
        now = self._now()
        renewed = self._service.renew(self.owner, now)
        taken, failed = self._service.take_over_expired(self.owner, now)
        for job_id in taken:
            log.info("job %s: lease expired, taken over by %s", job_id, self.owner)
            self.submit(job_id)
        purged = self._service.purge(now, self._retention)
        return Housekeeping(renewed, tuple(taken), failed, purged)

    def start(self) -> None:
        self._stopping.clear()
        self.tick()
        self._threads = [
            threading.Thread(target=self._work, name="flowyard-jobs", daemon=True),
            threading.Thread(target=self._beat, name="flowyard-jobs-heartbeat", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Finish the current job, then hand the queued ones back (their leases end now)."""
        if not self._threads:
            return
        self._stopping.set()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []
        try:
            self._service.release(self.owner, self._now())
        except Exception:  # the leases then simply expire
            log.exception("releasing the leases of %s failed", self.owner)

    def drain(self) -> None:
        """Run every queued job in the calling thread (tests without a started runner)."""
        while not self._queue.empty():
            job_id = self._queue.get_nowait()
            if job_id is not None:
                self._service.run_job(job_id, self.owner, self._org_id_of, self._now)

    def _work(self) -> None:
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return
            try:
                self._service.run_job(job_id, self.owner, self._org_id_of, self._now)
            except Exception:  # keep serving later jobs
                log.exception("job %s could not be finished", job_id)

    def _beat(self) -> None:
        while not self._stopping.wait(self._heartbeat_seconds):
            try:
                self.tick()
            except Exception:  # housekeeping must never stop the runner
                log.exception("job housekeeping failed")
