"""Flowyard's settings: one typed object, built once at start and passed down.

Every field can be set by an environment variable with the prefix
``FLOWYARD_`` (``FLOWYARD_PORT=9000``) or by a command-line option, which
wins. Nothing reads the environment at import time: :func:`load_settings`
does, when a command starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
# Requests whose apim-timestamp is further than this from the server clock are refused.
DEFAULT_SIGNATURE_MAX_SKEW_SECONDS = 300
# Lifetime of an access token from the token service (EnOS default: 2 h).
DEFAULT_TOKEN_TTL_SECONDS = 7200
DEFAULT_SESSION_IDLE_SECONDS = 3600
DEFAULT_SESSION_MAX_SECONDS = 12 * 3600
# Tasks one flow may have (Import Flow, the DataWorks face). Importing or deleting a flow holds the
# database's write lock for a time proportional to its tasks; at this size that is well under a
# second on both backends (README, "Limits").
DEFAULT_MAX_TASKS_PER_FLOW = 2000


def default_data_dir() -> Path:
    """``$FLOWYARD_HOME`` if set, else ``~/.flowyard``."""
    home = os.environ.get("FLOWYARD_HOME")
    return Path(home).expanduser() if home else Path.home() / ".flowyard"


class Settings(BaseSettings):
    """Everything a Flowyard process can be told."""

    model_config = SettingsConfigDict(env_prefix="FLOWYARD_", extra="ignore", frozen=True)

    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    auth: bool = True
    signature_max_skew_seconds: int = Field(default=DEFAULT_SIGNATURE_MAX_SKEW_SECONDS, gt=0)
    token_ttl_seconds: int = Field(default=DEFAULT_TOKEN_TTL_SECONDS, gt=0)
    max_tasks_per_flow: int = Field(default=DEFAULT_MAX_TASKS_PER_FLOW, gt=0, le=100_000)
    # IANA zone used to render EnOS time strings and compute business dates;
    # None means the machine's local zone.
    timezone: str | None = None
    log_level: str = "info"
    # Run the scheduler and the local executor in this process (the embedded default).
    scheduler: bool = True
    # CPU capacity the local executor admits tasks against (runMode.cpu each); None = 2 x cores,
    # because batch tasks spend much of their time waiting on I/O.
    executor_cpu: float | None = Field(default=None, gt=0)
    # What to do with cron ticks missed while no scheduler ran: latest, all or none.
    catch_up: str = Field(default="latest", pattern="^(latest|all|none)$")
    # Where attempts run: in this process (local) or on Celery workers (celery, needs broker_url).
    executor: str = Field(default="local", pattern="^(local|celery)$")
    # Celery broker: redis://host:6379/0 or amqp://user:password@host:5672//.
    broker_url: str | None = None
    # Prefix of the broker queue names; a task's resource group "gpu" goes to queue "flowyard.gpu".
    queue_prefix: str = "flowyard."
    # Schedulers sharing a database elect a leader with a lease of this many seconds: a standby
    # takes over at most this long (plus one second) after the leader dies.
    scheduler_lease_seconds: float = Field(default=15.0, gt=0)
    # A running remote attempt whose worker has not sent a heartbeat for this long is lost.
    attempt_lost_seconds: float = Field(default=30.0, gt=0)
    # A queued remote attempt no worker has claimed is published again after this long (doubling).
    requeue_seconds: float = Field(default=60.0, gt=0)
    # How often a worker renews its attempts and ships their logs.
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    # Run events (docs/events.md) older than this are purged by the leading scheduler.
    event_retention_hours: float = Field(default=168.0, gt=0)
    # Console sign-in: a session ends after this long without a request, and this long after sign-in.
    session_idle_seconds: int = Field(default=DEFAULT_SESSION_IDLE_SECONDS, gt=0)
    session_max_seconds: int = Field(default=DEFAULT_SESSION_MAX_SECONDS, gt=0)
    # After this many consecutive failed sign-ins of one username, each further attempt waits
    # login_lockout_seconds (doubling per further failure) from the last failure.
    login_max_failures: int = Field(default=5, gt=0)
    login_lockout_seconds: float = Field(default=60.0, gt=0)
    # The session cookie's Secure flag: auto (when the request came over https, also behind a proxy
    # that sets X-Forwarded-Proto), always or never.
    cookie_secure: str = Field(default="auto", pattern="^(auto|always|never)$")

    @property
    def resolved_database_url(self) -> str:
        """The database URL; the embedded default is a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'flowyard.db'}"

    @property
    def database_backend(self) -> str:
        """ "sqlite" or "postgresql" (SQLAlchemy's backend name of the database URL)."""
        return make_url(self.resolved_database_url).get_backend_name()

    @property
    def executor_capacity(self) -> float:
        """The CPU an executor admits attempts against: ``executor_cpu``, else 2 x cores."""
        return self.executor_cpu or 2.0 * (os.cpu_count() or 1)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, then apply non-None ``overrides``."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)
