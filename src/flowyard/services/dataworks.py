"""DataWorks workflow use cases: asynchronous import, job status, get, list and delete.

Each public method is one transaction (or a short series of them); ``now`` arrives as an argument.
Jobs are durable rows (:mod:`flowyard.store.jobs`) with an owner and a lease; :mod:`flowyard.services.jobs`
states that contract (leases, take-over, attempts, retention, progress) and runs the jobs in the
background (:class:`~flowyard.services.jobs.JobRunner`). This service is what the runner calls.

An import job parses, converts (:mod:`flowyard.services.workflow_import`) and validates the
document, then saves it (:mod:`flowyard.services.workflow_save`) and finishes the job in one
transaction, guarded by the owner: it applies completely or not at all, and at most once. A dry
run does everything an import does, reports the same result, then rolls the import back. Get
exports the flow as FlowSpec (:mod:`flowyard.services.workflow_export`), over the stored document
when the flow was imported.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.flows import Flow
from flowyard.domain.identity import Application
from flowyard.domain.validation import validate_definition
from flowyard.errors import FlowyardError, InvalidParameterError, LockedError, StateError
from flowyard.flowspec import (
    FlowSpecDocument,
    apply_workflow,
    detect_layout,
    dumps,
    new_document,
    parse,
    to_workflow,
)
from flowyard.services import workflow_save
from flowyard.services.jobs import (
    GAVE_UP,
    LEASE,
    MAX_ATTEMPTS,
    PROGRESS_CONVERTED,
    PROGRESS_STARTED,
    RETENTION,
)
from flowyard.services.workflow_export import to_workflow_spec
from flowyard.services.workflow_import import to_definition
from flowyard.settings import DEFAULT_MAX_TASKS_PER_FLOW
from flowyard.store import flows as flow_store
from flowyard.store import identity as identity_store
from flowyard.store import jobs as job_store
from flowyard.store import projects as project_store
from flowyard.store import specs as spec_store
from flowyard.store.auth import use_nonce
from flowyard.store.db import transaction

log = logging.getLogger("flowyard.jobs")

PROJECT_NAME = "default"


class _RollBackError(Exception):
    """Leaves the import transaction without committing: a dry run, or a job lost to another owner."""

    def __init__(self, saved: workflow_save.Saved | None) -> None:
        super().__init__("rolled back")
        self.saved = saved


def _strip_node_scripts(doc: FlowSpecDocument) -> FlowSpecDocument:
    """``doc`` without the script content of the workflow's nodes (changes ``doc``)."""
    for raw in detect_layout(doc).workflow.get("nodes") or []:
        script = raw.get("script") if isinstance(raw, dict) else None
        if isinstance(script, dict):
            script.pop("content", None)
            script.pop("code", None)
    return doc


class WorkflowSpecService:
    """The DataWorks workflow service over one session factory; leases last ``lease``; an imported
    workflow may have at most ``max_tasks`` nodes (``settings.max_tasks_per_flow``)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        lease: timedelta = LEASE,
        max_tasks: int = DEFAULT_MAX_TASKS_PER_FLOW,
    ) -> None:
        self._sessions = session_factory
        self._lease = lease
        self._max_tasks = max_tasks

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

    def workflow_ref(self, flow_id: int) -> str:
        """The GetWorkflowDefinition ``Id`` of flow ``flow_id``: its FlowSpec id, else the flow id."""
        with transaction(self._sessions, read_only=True) as session:
            record = spec_store.by_flow_id(session, flow_id)
        return record.workflow_id if record is not None else str(flow_id)

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
            job_type = workflow_save.job_type(session, project_id, doc)
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

    def _run_import(self, job: job_store.Job, owner: str, org_id: str, now: Callable[[], datetime]) -> None:
        """Convert, then save and finish in one transaction; a dry run saves, then rolls back."""
        doc = parse(job.spec)
        wf = to_workflow(doc)
        conversion = to_definition(wf)
        count = len(conversion.definition.tasks)
        if count > self._max_tasks:
            raise InvalidParameterError(
                f"workflow has {count} nodes; a flow may have at most {self._max_tasks}"
                " (server setting max_tasks_per_flow)"
            )
        validate_definition(conversion.definition)
        converted_at = now()
        with transaction(self._sessions) as session:
            job_type = workflow_save.job_type(session, job.project_id, doc)
            if not job_store.advance(
                session, job.id, owner, progress=PROGRESS_CONVERTED, job_type=job_type, now=converted_at
            ):
                raise _RollBackError(None)
        warnings = "; ".join(conversion.warnings)
        saved_at = now()
        try:
            with transaction(self._sessions) as session:
                saved = workflow_save.save_import(
                    session, job.project_id, org_id, job.spec, wf, conversion, saved_at
                )
                if job.dry_run:
                    raise _RollBackError(workflow_save.Saved(saved.job_type, wf.id or ""))
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
            if flow.locked:
                raise LockedError(workflow_save.locked_message(flow.id))
            if flow_store.dependents(session, flow.id):
                raise StateError("This workflow is relied on by other workflows and cannot be deleted.")
            flow_store.delete_flow(session, flow.id)
