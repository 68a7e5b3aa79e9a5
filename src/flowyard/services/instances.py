"""The scheduler's instance use cases: cron ticks, starting queued instances, advancing open ones.

Each public method is one transaction (or one per flow, for ticks) with ``now``
given; the decisions are the pure core's (:mod:`flowyard.domain.ticks`,
:mod:`flowyard.domain.planning`), and every state change goes through the
gateway (:mod:`flowyard.services.transitions`), so it is checked and leaves an
event. The scheduler loop only calls these, the executor and the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain import planning
from flowyard.domain.cron import parse_cron
from flowyard.domain.flows import Flow, flow_zone, schedule_window
from flowyard.domain.instances import (
    InstanceRecord,
    InstanceRun,
    TaskInstanceRecord,
    TriggerKind,
    flow_instance_id,
    scheduled_suffix,
)
from flowyard.domain.states import Status
from flowyard.domain.ticks import CatchUp, finer_than_cycle, plan_ticks
from flowyard.services.open_view import OpenInstances
from flowyard.services.runs import build_instance
from flowyard.services.transitions import EventBus, RunChanges, ref_of, run_changes
from flowyard.store import attempts as attempt_store
from flowyard.store import flows as flow_store
from flowyard.store import instances as store
from flowyard.store.db import transaction
from flowyard.store.premises import unmet_premises

log = logging.getLogger("flowyard.scheduler")
RULE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # where the id rule samples a cron's fire times

__all__ = ["Advanced", "InstanceRecord", "InstanceService", "TaskInstanceRecord"]


@dataclass(frozen=True, slots=True)
class Advanced:
    """What a pass of :meth:`InstanceService.advance_in` leaves for the scheduler to do."""

    to_kill: list[str]  # ids of running attempts of cancelled instances, for the executor to kill
    ended: bool  # an instance ended: a queued instance of the same flow may start now


class InstanceService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        bus: EventBus,
        zone: tzinfo,
        catch_up: CatchUp,
        view: OpenInstances | None = None,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self.view = view or OpenInstances()
        self._zone = zone
        self._catch_up = catch_up
        self._flows: dict[str, Flow] = {}  # instance id -> parsed snapshot, while the instance is open
        self._id_rules: dict[tuple[str, str, str], bool] = {}  # (cron, cycle, zone) -> full-second ids

    def flow_of(self, record: InstanceRecord) -> Flow:
        """The instance's own snapshot of its flow, parsed once while the instance is open."""
        flow = self._flows.get(record.id)
        if flow is None:
            flow = self._flows[record.id] = record.flow()
        return flow

    def zone_of(self, record: InstanceRecord) -> tzinfo:
        return flow_zone(self.flow_of(record).definition.options, self._zone)

    # --- cron ticks -------------------------------------------------------------------------------

    def tick(self, now: datetime) -> datetime | None:
        """Create the instances of due cron ticks; returns the earliest next tick of any flow."""
        with transaction(self._sessions, read_only=True) as session:
            flow_ids = store.due_periodic_flows(session, now)
        for flow_id in flow_ids:
            with transaction(self._sessions) as session:
                flow = flow_store.load_flow(session, flow_id)
                cursor = store.schedule_cursor(session, flow_id)
            if flow is None or not flow.definition.cron.strip():
                continue
            options = flow.definition.options
            start_at, end_at = schedule_window(options, self._zone)
            plan = plan_ticks(
                parse_cron(flow.definition.cron),
                flow_zone(options, self._zone),
                cursor,
                now,
                self._catch_up,
                start_date=flow.definition.start_date,
                window_start=start_at,
                window_end=end_at,
            )
            for tick_at in plan.ticks:
                if self.create_tick(flow, tick_at, now):
                    log.info("flow %s: tick %s", flow_id, tick_at.isoformat())
            with transaction(self._sessions) as session:
                store.set_schedule(session, flow_id, plan.cursor, plan.upcoming)
        with transaction(self._sessions, read_only=True) as session:
            return store.earliest_next_tick(session)

    def create_tick(self, flow: Flow, tick_at: datetime, now: datetime) -> str | None:
        """The instance of one cron tick, or None if it exists already (idempotent by (flow, tick))."""
        with run_changes(self._sessions, self._bus, now) as changes:
            session = changes.session
            if store.tick_exists(session, flow.id, tick_at):
                return None
            suffix = scheduled_suffix(tick_at, flow.definition.cycle, full=self._full_ids(flow))
            if store.exists(session, flow_instance_id(flow.id, suffix)):  # a manual id took it
                suffix = scheduled_suffix(tick_at, flow.definition.cycle, full=True)
            record = build_instance(
                flow,
                instance_id=flow_instance_id(flow.id, suffix),
                suffix=suffix,
                kind=TriggerKind.SCHEDULE,
                trigger_at=tick_at,
                scheduled_at=tick_at,
                zone=self._zone,
                now=now,
                creator=flow.creator,
                parameters=flow.definition.parameters,
            )
            try:
                with changes.savepoint():
                    changes.created(record)
            except IntegrityError:  # another scheduler made this tick first
                return None
            return record.id

    def _full_ids(self, flow: Flow) -> bool:
        """One id rule per flow: second resolution when its cron is finer than its cycle."""
        d = flow.definition
        key = (d.cron, d.cycle, d.options.time_zone)
        full = self._id_rules.get(key)
        if full is None:
            zone = flow_zone(d.options, self._zone)
            # Fire times from a fixed instant: the rule must not depend on when the flow first ticked.
            full = self._id_rules[key] = finer_than_cycle(parse_cron(d.cron), zone, d.cycle, RULE_EPOCH)
        return full

    # --- starting instances -----------------------------------------------------------------------

    def start_pending(self, now: datetime) -> datetime | None:
        """Move INIT/WAIT instances on (one active instance per flow); returns the next future trigger."""
        with run_changes(self._sessions, self._bus, now, self.view) as changes:
            session = changes.session
            pending = store.pending(session)
            active = store.active_flow_ids(session)
            runs: list[InstanceRun] = []
            for record in pending:
                waiting: tuple[str, ...] = ()
                if record.trigger_kind == "schedule" and record.trigger_at <= now:
                    waiting = unmet_premises(session, record)
                runs.append(record.run(waiting))
            by_id = {r.id: r for r in pending}
            waiting_for = {r.id: r.waiting_for for r in runs}
            for start in planning.instances_to_start(runs, active, now):
                record = by_id[start.instance_id]
                ref = ref_of(record)
                message = "waiting for upstream: " + ", ".join(waiting_for[record.id])
                if start.status == record.status:  # still waiting, for other premises now
                    changes.instance_values(ref, message=message)
                elif start.status == Status.RUNNING:
                    changes.instance(ref, record.status, Status.RUNNING, started_at=now)
                else:
                    changes.instance(ref, record.status, start.status, message=message)
        future = [r.trigger_at for r in pending if r.trigger_at > now]
        return min(future, default=None)

    # --- open instances ---------------------------------------------------------------------------

    def open_instances(self, *, reload: bool = False) -> list[InstanceRecord]:
        """The open instances: from the in-memory view, loaded from the database when asked or empty."""
        if reload or not self.view.loaded:
            with transaction(self._sessions, read_only=True) as session:
                self.view.load(store.get_many(session, store.open_instance_ids(session)))
        return self.view.records()

    def advance_in(
        self, changes: RunChanges, records: list[InstanceRecord], *, owner: str | None
    ) -> Advanced:
        """Ready tasks whose upstreams finished, end instances, skip what will never run; in the
        caller's transaction (a step's). ``owner`` names whose running attempts a cancel must kill
        (None: every owner's, for a remote executor)."""
        updated: list[InstanceRecord] = []
        running = (
            attempt_store.running_attempts(changes.session, owner)
            if any(r.cancelled for r in records)
            else []
        )
        for record in records:
            updated.append(self._advance_one(changes, record))
        cancelled = {t.id for r in records if r.cancelled for t in r.tasks}
        # The snapshot cache follows the open instances: all of the view, not only this pass's.
        live = {r.id for r in self.view.records()} if self.view.loaded else {r.id for r in updated}
        for instance_id in [i for i in self._flows if i not in live]:
            del self._flows[instance_id]
        return Advanced(
            to_kill=[a.id for a in running if a.task_instance_id in cancelled],
            ended=any(r.status.final for r in updated),
        )

    def _advance_one(self, changes: RunChanges, record: InstanceRecord) -> InstanceRecord:
        ref = ref_of(record)
        changed: dict[str, Status] = {}
        run = record.run()
        by_id = {t.id: t for t in record.tasks}
        for task_id in planning.newly_ready(run):
            changes.task(ref, by_id[task_id], Status.READY)
            changed[task_id] = Status.READY
        status = record.status
        outcome = planning.instance_outcome(run, self.flow_of(record).definition.options.failure_strategy)
        if outcome is not None:
            changes.instance(ref, status, outcome)
            status = outcome
        if status in (Status.FAIL, Status.CANCEL):
            for task_id in planning.to_skip(replace(run, status=status)):
                task = by_id[task_id]
                changes.task(
                    ref, task, Status.SKIP, old=changed.get(task_id), message="not run: the instance ended"
                )
                changed[task_id] = Status.SKIP
        tasks = tuple(replace(t, status=changed[t.id]) if t.id in changed else t for t in record.tasks)
        ended_at = record.ended_at
        settled = replace(run, status=status, tasks=tuple(t.run() for t in tasks))
        if status.final and ended_at is None and planning.instance_finished(settled):
            ended_at = changes.now
            changes.instance_finished(ref, status)
        return replace(record, status=status, ended_at=ended_at, tasks=tasks)
