"""``flowyard admin cluster``: who leads the schedulers, which workers are alive, what they run.

Read straight from the database (like the other admin commands), so it works
whichever process is up or down.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from flowyard.cli.admin import database_options, emit, open_database, reports_errors
from flowyard.clock import SystemClock
from flowyard.store import attempts, leases
from flowyard.store import workers as worker_store
from flowyard.store.db import transaction
from flowyard.store.stats import WORKER_ALIVE


def cluster_state(data_dir: Path | None, database_url: str | None, now: datetime) -> dict[str, Any]:
    with open_database(data_dir, database_url) as sessions, transaction(sessions, read_only=True) as session:
        leader = leases.holder(session, now)
        running = attempts.running_by_owner(session)
        rows = worker_store.all_workers(session)
        queued = sum(n for (state, _), n in attempts.counts_by_state(session).items() if state == "queued")
    return {
        "leader": leader,
        "queued": queued,
        "workers": [
            {
                "name": w.name,
                "hostname": w.hostname,
                "pid": w.pid,
                "queues": list(w.queues),
                "concurrency": w.concurrency,
                "alive": now - w.heartbeat_at <= WORKER_ALIVE,
                "heartbeatAgeSeconds": round((now - w.heartbeat_at).total_seconds(), 1),
                "running": running.get(w.name, 0),
            }
            for w in rows
        ],
    }


def _text(state: dict[str, Any]) -> str:
    lines = [f"scheduler leader: {state['leader'] or 'none (embedded, or no scheduler running)'}"]
    lines.append(f"attempts waiting for a worker: {state['queued']}")
    for w in state["workers"]:
        status = "alive" if w["alive"] else f"silent for {w['heartbeatAgeSeconds']:g} s"
        lines.append(
            f"{w['name']}\t{w['hostname']}:{w['pid']}\tqueues {','.join(w['queues'])}\t"
            f"{w['running']}/{w['concurrency']} running\t{status}"
        )
    if not state["workers"]:
        lines.append("no Celery worker has registered")
    return "\n".join(lines)


@click.command("cluster")
@database_options
@reports_errors
def cluster_command(data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Show the leading scheduler, the workers (alive or silent, what they run) and the queue."""
    state = cluster_state(data_dir, database_url, SystemClock().now())
    emit(as_json, state, _text(state))
