"""/health and /metrics of the API (with its embedded scheduler), scraped as Prometheus would."""

from __future__ import annotations

import re

from tests.integration.conftest import World, simple_flow
from tests.integration.test_api_runs import trigger, wait_final

SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+|\+Inf)$")


def scrape(world: World) -> dict[str, float]:
    response = world.api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not in the exposition format: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def test_metrics_count_what_ran(world: World) -> None:
    before = scrape(world)
    assert before["flowyard_scheduler_leader"] == 1
    assert before["flowyard_task_duration_seconds_count"] == 0
    assert before["flowyard_scheduling_lag_seconds"] == 0
    flow = simple_flow("a", "b")
    instance_id = trigger(world, world.api.import_flow(flow, "measured"))
    assert wait_final(world.api, instance_id)["statusDesc"] == "SUCCESS"
    after = scrape(world)
    assert after["flowyard_task_duration_seconds_count"] == 2
    assert after['flowyard_task_duration_seconds_bucket{le="+Inf"}'] == 2
    assert after['flowyard_attempt_outcomes_total{outcome="success"}'] == 2
    assert after['flowyard_open_flow_instances{status="RUNNING"}'] == 0
    assert after["flowyard_workers_alive"] == 0


def test_health_reports_the_scheduler(world: World) -> None:
    body = world.api.client.get("/health").json()
    assert body["status"] == "ok"
    assert body["scheduler"]["leader"] is True
