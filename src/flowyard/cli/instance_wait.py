"""Waiting for a flow instance to finish (``trigger --wait``): progress lines, summary, exit code.

Exit codes of a wait::

    0 SUCCESS · 1 FAIL, INTERNAL_ERROR, TIMEOUT · 8 CANCEL · 10 SKIP · 124 timeout expired

Waiting never cancels anything: on a timeout the instance keeps running and
the message says how to cancel it (:func:`cancel_hint`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final

import click

from flowyard.client import FlowyardClient
from flowyard.domain.states import Status

from .instance_records import graph_tasks, record_status, status_label
from .output import cell, display_width
from .run_context import RunEnvironment

__all__ = [
    "EXIT_BY_FINAL_STATUS",
    "EXIT_TIMEOUT",
    "Progress",
    "cancel_hint",
    "duration_text",
    "summary_lines",
    "wait_for_instance",
]

EXIT_TIMEOUT: Final = 124  # as timeout(1)
EXIT_BY_FINAL_STATUS: Final[dict[Status, int]] = {
    Status.SUCCESS: 0,
    Status.FAIL: 1,
    Status.INTERNAL_ERROR: 1,
    Status.TIMEOUT: 1,
    Status.CANCEL: 8,
    Status.SKIP: 10,
}
_INSTANCE_LABEL: Final = "(flow instance)"


def _time_string(value: Any) -> datetime | None:
    try:
        return datetime.strptime(cell(value)[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def duration_text(seconds: float) -> str:
    """``2s``, ``3m05s``, ``1h02m03s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def summary_lines(instance_id: str, status: Status, instance: dict[str, Any]) -> Iterator[str]:
    """The end of a wait: the final status, the run time, task counts, where to read failed tasks' logs."""
    line = f"Flow instance {instance_id} finished: {status.name}"
    started, ended = _time_string(instance.get("startTime")), _time_string(instance.get("endTime"))
    if started is not None and ended is not None and ended >= started:
        line += f" in {duration_text((ended - started).total_seconds())}"
    tasks = graph_tasks(instance)
    if tasks:
        counts: dict[str, int] = {}
        for task in tasks:
            counts[task.status] = counts.get(task.status, 0) + 1
        line += " (tasks: " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ")"
    yield line
    failed = {Status.FAIL.name, Status.TIMEOUT.name, Status.INTERNAL_ERROR.name}
    for task in tasks:
        if task.status in failed and task.task_inst_id:
            yield f"  {task.name} {task.status}: see `flowyard logs {task.task_inst_id}`"


class Progress:
    """Turns successive polls of an instance into one line per status change.

    The first poll reports every task; later polls only the tasks (and the
    instance itself, as ``(flow instance)``) whose status changed.
    """

    def __init__(self, zone: tzinfo | None) -> None:
        self._zone = zone
        self._seen: dict[str, str] = {}

    def lines(self, instance: dict[str, Any], now: datetime) -> list[str]:
        states = [(_INSTANCE_LABEL, _INSTANCE_LABEL, status_label(instance))]
        states += [(task.key, task.name or task.key, task.status) for task in graph_tasks(instance)]
        width = max(display_width(label) for _, label, _ in states)
        stamp = now.astimezone(self._zone).strftime("%H:%M:%S")
        changed: list[str] = []
        for key, label, status in states:
            if self._seen.get(key) != status:
                self._seen[key] = status
                padding = " " * (width - display_width(label))
                changed.append(f"{stamp}  {label}{padding}  {status}")
        return changed


def cancel_hint(instance_id: str) -> str:
    return f"It keeps running; cancel it with `flowyard instances cancel {instance_id}`."


def wait_for_instance(
    client: FlowyardClient,
    instance_id: str,
    environment: RunEnvironment,
    poll_interval: float,
    timeout: float | None,
) -> tuple[int, dict[str, Any]]:
    """Poll Get Flow Instance until its status is final; return the exit code and the last instance.

    Progress and the summary go to stderr. Once ``timeout`` seconds (by the
    environment's clock) have passed the exit code is 124. Between polls the
    environment's sleeper waits ``poll_interval`` seconds, less to meet the
    deadline.
    """
    clock = environment.clock
    deadline = None if timeout is None else clock.now() + timedelta(seconds=timeout)
    progress = Progress(environment.zone)
    while True:
        instance = client.get_flow_instance(instance_id)
        now = clock.now()
        for line in progress.lines(instance, now):
            click.echo(line, err=True)
        status = record_status(instance)
        if status is not None and status.final:
            for line in summary_lines(instance_id, status, instance):
                click.echo(line, err=True)
            return EXIT_BY_FINAL_STATUS[status], instance
        pause = poll_interval
        if deadline is not None:
            left = (deadline - now).total_seconds()
            if left <= 0:
                click.echo(
                    f"Gave up waiting after {timeout:g}s: flow instance {instance_id} is "
                    f"{status_label(instance)}. {cancel_hint(instance_id)}",
                    err=True,
                )
                return EXIT_TIMEOUT, instance
            pause = min(pause, left)
        environment.sleep(pause)
