"""``flowyard cron next`` through click's CliRunner."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner

from flowyard.cli import cron as cli_cron
from flowyard.cli.cron import cron_group, local_zone_name


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_group_is_a_click_group() -> None:
    assert isinstance(cron_group, click.Group)
    assert "next" in cron_group.commands


def test_human_output_with_iso_after(runner: CliRunner) -> None:
    result = runner.invoke(
        cron_group, ["next", "0 0 12 ? * MON-FRI", "--after", "2024-03-01T00:00:00", "--tz", "Europe/Berlin"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2024-03-01T12:00:00+01:00",
        "2024-03-04T12:00:00+01:00",
        "2024-03-05T12:00:00+01:00",
        "2024-03-06T12:00:00+01:00",
        "2024-03-07T12:00:00+01:00",
    ]


def test_naive_after_is_read_in_the_requested_zone(runner: CliRunner) -> None:
    # 11:59:59 Shanghai time: the next noon is the same day in Shanghai.
    result = runner.invoke(
        cron_group,
        ["next", "0 0 12 * * ?", "--after", "2024-03-01T11:59:59", "--tz", "Asia/Shanghai", "--count", "1"],
    )
    assert result.stdout.strip() == "2024-03-01T12:00:00+08:00"


def test_json_output_with_epoch_millis(runner: CliRunner) -> None:
    after = str(int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000))
    result = runner.invoke(
        cron_group, ["next", "0 0 9 * * ?", "--after", after, "--count", "2", "--tz", "GMT+8", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "expression": "0 0 9 * * ?",
        "timezone": "GMT+08:00",
        "fireTimes": [
            {"iso": "2024-03-01T09:00:00+08:00", "epochMs": 1709254800000},
            {"iso": "2024-03-02T09:00:00+08:00", "epochMs": 1709341200000},
        ],
    }


def test_schedule_that_ends_prints_fewer_lines(runner: CliRunner) -> None:
    result = runner.invoke(
        cron_group, ["next", "0 0 0 1 1 ? 2030", "--after", "2029-06-01T00:00:00Z", "--tz", "UTC", "--json"]
    )
    assert result.exit_code == 0
    assert [t["iso"] for t in json.loads(result.stdout)["fireTimes"]] == ["2030-01-01T00:00:00+00:00"]


def test_invalid_expression_exits_2_with_message_on_stderr(runner: CliRunner) -> None:
    result = runner.invoke(cron_group, ["next", "0 0 25 * * ?", "--tz", "UTC"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "hour value 25 out of range 0-23" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tz", "Mars/Olympus"], "unknown time zone"),
        (["--after", "yesterday"], "neither an ISO-8601 datetime nor epoch milliseconds"),
        (["--count", "-1"], "--count"),
    ],
)
def test_bad_options_are_usage_errors(runner: CliRunner, args: list[str], fragment: str) -> None:
    result = runner.invoke(cron_group, ["next", "0 0 0 * * ?", *args])
    assert result.exit_code == 2
    assert fragment in result.stderr


def test_defaults_use_now_and_the_local_zone(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_cron, "local_zone_name", lambda: "Asia/Shanghai")
    before = datetime.now(UTC)
    result = runner.invoke(cron_group, ["next", "*/10 * * * * ?"])
    assert result.exit_code == 0, result.output
    times = [datetime.fromisoformat(line) for line in result.stdout.splitlines()]
    assert len(times) == 5
    assert all(t.utcoffset() is not None and t.utcoffset().total_seconds() == 8 * 3600 for t in times)
    assert before < times[0] <= before.replace(microsecond=0) + (times[1] - times[0]) * 2


def test_local_zone_name_prefers_tz_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    assert local_zone_name() == "America/Sao_Paulo"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_zone_name()  # falls back to /etc/localtime, the tzinfo name, or UTC
