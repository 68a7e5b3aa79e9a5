"""The relational schema: one SQLAlchemy table class per stored concept.

Only ``flowyard.store`` imports this module. Times are stored as aware UTC
datetimes (see :class:`UTCDateTime`); JSON documents that the API treats as
opaque text (parameters, run modes) are stored as text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; Flowyard stores aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Membership(Base):
    __tablename__ = "memberships"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)


class Application(Base):
    """A service account: the accessKey/secretKey pair of EnOS application registration."""

    __tablename__ = "applications"
    access_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The secret must be readable: both signature schemes are keyed hashes over it.
    secret_key: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessToken(Base):
    __tablename__ = "access_tokens"
    token: Mapped[str] = mapped_column(String(128), primary_key=True)
    access_key: Mapped[str] = mapped_column(
        ForeignKey("applications.access_key", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsedNonce(Base):
    """Values that may be used once (token-request encryptions, request signatures).

    The primary key makes "seen before" an atomic insert; rows past
    ``expires_at`` can be purged because a stale timestamp is refused anyway.
    """

    __tablename__ = "used_nonces"
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Counter(Base):
    """Named id allocators (flows, tasks), shared by every server on one database."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Directory(Base):
    __tablename__ = "directories"
    __table_args__ = (UniqueConstraint("org_id", "parent_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # NULL only for an organisation's root "Workflow" directory.
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("directories.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Flow(Base):
    __tablename__ = "flows"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    dir_id: Mapped[str] = mapped_column(ForeignKey("directories.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    desc: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[str] = mapped_column(String(4))
    cron: Mapped[str] = mapped_column(String(255))
    parameters: Mapped[str] = mapped_column(Text, default="[]")
    alert_mode: Mapped[int] = mapped_column(Integer, default=0)
    alert_to: Mapped[str] = mapped_column(Text, default="")
    app_id: Mapped[str] = mapped_column(String(255), default="")
    submitter: Mapped[str] = mapped_column(String(255), default="")
    owners: Mapped[str] = mapped_column(Text, default="")
    visitors: Mapped[str] = mapped_column(Text, default="")
    sync_type: Mapped[int] = mapped_column(Integer, default=1)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # FlowOptions and per-task FlowSpec fields (node id, rerun mode) as one JSON object.
    options: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    active: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    entry: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(String(255), default="")
    creator: Mapped[str] = mapped_column(String(128), default="")
    update_user: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("flow_id", "name"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    cmd: Mapped[str] = mapped_column(Text, default="")
    resource: Mapped[str] = mapped_column(String(255), default="default")
    sync_type: Mapped[int] = mapped_column(Integer, default=1)
    submitter: Mapped[str] = mapped_column(String(255), default="")
    file_package: Mapped[str] = mapped_column(Text, default="")
    cron: Mapped[str] = mapped_column(String(255), default="")
    priority_level: Mapped[int] = mapped_column(Integer, default=0)
    timeout: Mapped[int] = mapped_column(Integer, default=0)
    retry_limit: Mapped[int] = mapped_column(Integer, default=0)
    retry_interval: Mapped[int] = mapped_column(Integer, default=0)
    success_code: Mapped[str] = mapped_column(String(255), default="0")
    wait_code: Mapped[str] = mapped_column(String(255), default="")
    as_link: Mapped[bool] = mapped_column(Boolean, default=False)
    run_mode: Mapped[str] = mapped_column(Text)
    x: Mapped[float] = mapped_column(Float, default=0.0)
    y: Mapped[float] = mapped_column(Float, default=0.0)


class TaskRelation(Base):
    """An edge between two tasks of the same flow."""

    __tablename__ = "task_relations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # Indexed so that deleting a task checks its references by index, not by a table scan (0009).
    source_task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    target_task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    rerun: Mapped[bool] = mapped_column(Boolean, default=True)
    cycle_gap: Mapped[str] = mapped_column(String(16), default="")


class FlowLink(Base):
    """A premise: this flow depends on another flow (``upstream_task_id`` NULL) or on a task of it.

    ``node_flow_id`` is the reference node's id in the graph (``f_<id>``): the
    upstream flow's id for a flow premise, a number drawn from the flow id
    counter for a task premise (EnOS's "virtual flow"). RESTRICT on the
    upstream keys makes the database itself refuse deleting a flow or task
    that another flow relies on.
    """

    __tablename__ = "flow_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    link_key: Mapped[str] = mapped_column(String(64))
    node_flow_id: Mapped[int] = mapped_column(BigInteger)
    upstream_flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="RESTRICT"), index=True)
    upstream_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    x: Mapped[float] = mapped_column(Float, default=0.0)
    y: Mapped[float] = mapped_column(Float, default=0.0)


class LinkRelation(Base):
    """An edge from a premise (flow link) to a task of this flow."""

    __tablename__ = "link_relations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    link_row_id: Mapped[int] = mapped_column(ForeignKey("flow_links.id", ondelete="CASCADE"))
    target_task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    rerun: Mapped[bool] = mapped_column(Boolean, default=False)
    cycle_gap: Mapped[str] = mapped_column(String(16), default="")


Index("ix_flows_org_updated", Flow.org_id, Flow.updated_at)


class FlowSchedule(Base):
    """The scheduler's cursor for one periodic flow: the last tick already turned into an instance."""

    __tablename__ = "flow_schedules"
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True)
    cursor_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_tick_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class FlowSnapshot(Base):
    """A flow frozen at trigger time, stored once per distinct content (instances share it by hash).

    Keeping the large document out of ``flow_instances`` keeps that table's rows small, which is
    what makes listing a million instances fast.
    """

    __tablename__ = "flow_snapshots"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of body
    body: Mapped[str] = mapped_column(Text)


class FlowInstance(Base):
    __tablename__ = "flow_instances"
    __table_args__ = (
        # One instance per cron tick: a second scheduler or a restart cannot duplicate it.
        UniqueConstraint("flow_id", "scheduled_at"),
        # Covering index for List Flow Instances: the window, status, sort and expression filters are
        # answered from the index alone, without reading table rows (1M instances: ~1 ms).
        Index(
            "ix_flow_instances_search",
            "org_id",
            "type",
            "trigger_at",
            "status",
            "started_at",
            "flow_name",
            "id",
        ),
        Index("ix_flow_instances_status_search", "org_id", "type", "status", "trigger_at"),
        Index("ix_flow_instances_flow_status", "flow_id", "status"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(String(32))
    flow_name: Mapped[str] = mapped_column(String(255))
    type: Mapped[int] = mapped_column(Integer)
    trigger_kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer, index=True)
    trigger_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cal_dt: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    parameters: Mapped[str] = mapped_column(Text, default="[]")
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("flow_snapshots.id", ondelete="RESTRICT"))
    owners: Mapped[str] = mapped_column(Text, default="")
    creator: Mapped[str] = mapped_column(String(128), default="")
    from_task_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")


class TaskInstance(Base):
    __tablename__ = "task_instances"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_instance_id: Mapped[str] = mapped_column(
        ForeignKey("flow_instances.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer, index=True)
    run_num: Mapped[int] = mapped_column(Integer, default=0)
    retry_limit: Mapped[int] = mapped_column(Integer, default=0)
    retry_interval: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    upstream: Mapped[str] = mapped_column(Text, default="[]")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_timeout: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")
    command: Mapped[str] = mapped_column(Text, default="")


class TaskAttempt(Base):
    """One run of a task instance's command. Claimed atomically before it runs."""

    __tablename__ = "task_attempts"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    task_instance_id: Mapped[str] = mapped_column(
        ForeignKey("task_instances.id", ondelete="CASCADE"), index=True
    )
    run_num: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done
    owner: Mapped[str] = mapped_column(String(128), default="")  # the process that runs it
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    # Remote execution (Celery): the Celery queue, the encoded AttemptSpec a worker reads back,
    # when and how often its message was published, and a cancel request the worker polls for.
    queue: Mapped[str] = mapped_column(String(255), default="")
    spec: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    send_count: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)


class TaskLogChunk(Base):
    """A piece of a task instance's log, shipped by a worker or written by a scheduler elsewhere.

    With the Celery executor no filesystem is shared: whoever produces log text appends it here,
    and Get Task Instance Log concatenates the chunks in id order.
    """

    __tablename__ = "task_log_chunks"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    task_instance_id: Mapped[str] = mapped_column(
        ForeignKey("task_instances.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)


class SchedulerLease(Base):
    """Leadership among schedulers sharing a database: one holder at a time, until ``expires_at``."""

    __tablename__ = "scheduler_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Worker(Base):
    """A Celery worker process, as it last reported itself (liveness, metrics, where attempts ran)."""

    __tablename__ = "workers"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(Text, default="")
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Project(Base):
    """A DataWorks workspace (``ProjectId``): exactly one per organisation."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FlowSpecRecord(Base):
    """The FlowSpec document a flow was imported from, kept for a faithful GetWorkflowDefinition."""

    __tablename__ = "flow_specs"
    __table_args__ = (UniqueConstraint("project_id", "workflow_id"),)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    workflow_id: Mapped[str] = mapped_column(String(32))
    document: Mapped[str] = mapped_column(Text)


class AsyncJob(Base):
    """A DataWorks asynchronous job (ImportWorkflowDefinition): Running → Success | Fail | Cancel.

    A Running job belongs to the process ``owner`` until ``lease_expires_at``; the owner renews the
    lease while it lives, and any process may take over a job whose lease has expired.
    ``attempts`` counts the runs started, so a job that keeps killing its runner ends as Fail.
    """

    __tablename__ = "async_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    spec: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(128), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RunEventRow(Base):
    """One run event (``flowyard.domain.events``), appended in the transaction of its change.

    Readers in other processes follow the table by ``id`` (a cursor); rows older than the
    retention (``FLOWYARD_EVENT_RETENTION_HOURS``) are purged by the leading scheduler. No foreign
    keys: an event outlives the instance it speaks of until it is purged.
    """

    __tablename__ = "run_events"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    org_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[int] = mapped_column(BigInteger)
    instance_id: Mapped[str] = mapped_column(String(64))
    task_instance_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")


class UserPassword(Base):
    """A person's console password as an argon2id hash (no row: the user cannot sign in)."""

    __tablename__ = "user_passwords"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    hash: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsoleSession(Base):
    """A signed-in browser: the SHA-256 of the cookie's token, its CSRF token and its two clocks."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailure(Base):
    """Consecutive failed sign-ins per username (known or not), reset by a success."""

    __tablename__ = "login_failures"
    username: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
