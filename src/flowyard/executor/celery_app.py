"""The Celery application both sides share: the scheduler publishes, workers consume.

Celery is only the transport. A message carries nothing but an attempt id; the
attempt itself (command, environment, limits) is read from the database by the
worker that claims it. So a message can be lost (the scheduler publishes it
again), duplicated (only one claim succeeds) or delivered late (a cancelled or
already-run attempt cannot be claimed) without effect on what runs.
"""

from __future__ import annotations

from celery import Celery

RUN_ATTEMPT = "flowyard.run_attempt"


def queue_name(prefix: str, resource: str) -> str:
    return f"{prefix}{resource or 'default'}"


def make_celery(broker_url: str, *, main: str = "flowyard") -> Celery:
    app = Celery(main, broker=broker_url, set_as_current=False)
    app.conf.update(
        task_ignore_result=True,  # results go to the database, never through Celery
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=False,  # a claim in the database, not the ack, guards against double runs
        worker_prefetch_multiplier=1,  # a busy worker does not hoard messages others could run
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_heartbeat=10,
        worker_hijack_root_logger=False,
        worker_enable_remote_control=True,  # `flowyard worker --ping` uses it
        task_create_missing_queues=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={"max_retries": 1, "interval_start": 0, "interval_step": 0.5},
    )
    return app
