"""Fire-time tables for flowyard.cron, derived by hand from Quartz 2.3.2's getTimeAfter walk.

Each row: (expression, after as ISO-8601 with offset, zone, expected fire times as ISO-8601).
All rows were also confirmed against the real Quartz 2.3.2.  The DST rows document its surprising
but exact behaviour: a daily fire time inside a spring-forward gap is lost that day (the walk is
pushed past the gap, where the hour no longer matches), and an ambiguous fall-back wall time
resolves to the later (standard-time) instant.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from flowyard.cron import CronExpression, next_fire_times, parse_cron

ROWS: list[tuple[str, str, str, list[str]]] = [
    # --- plain fields ------------------------------------------------------------------------
    ("0 0 12 ? * MON-FRI", "2024-03-01T00:00:00+00:00", "UTC",
     ["2024-03-01T12:00:00+00:00", "2024-03-04T12:00:00+00:00", "2024-03-05T12:00:00+00:00"]),
    ("0/20 * * * * ?", "2024-01-01T00:00:45+00:00", "UTC",
     ["2024-01-01T00:01:00+00:00", "2024-01-01T00:01:20+00:00", "2024-01-01T00:01:40+00:00"]),
    ("5/25 * * * * ?", "2024-01-01T00:00:31+00:00", "UTC",  # seconds 5, 30, 55
     ["2024-01-01T00:00:55+00:00", "2024-01-01T00:01:05+00:00", "2024-01-01T00:01:30+00:00"]),
    ("0 0 22-2 * * ?", "2024-01-01T21:30:00+00:00", "UTC",  # wrapping hour range
     ["2024-01-01T22:00:00+00:00", "2024-01-01T23:00:00+00:00", "2024-01-02T00:00:00+00:00"]),
    ("0 0 0 1 NOV-FEB ?", "2024-02-15T00:00:00+00:00", "UTC",  # wrapping month range
     ["2024-11-01T00:00:00+00:00", "2024-12-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"]),
    ("0 0 0 1 7/6 ?", "2024-01-01T00:00:00+00:00", "UTC",  # 7/6 in months is only July
     ["2024-07-01T00:00:00+00:00", "2025-07-01T00:00:00+00:00"]),
    ("0 0 6 ? * sat-mon", "2024-03-01T00:00:00+00:00", "UTC",  # SAT-MON wraps: Sat, Sun, Mon
     ["2024-03-02T06:00:00+00:00", "2024-03-03T06:00:00+00:00", "2024-03-04T06:00:00+00:00",
      "2024-03-09T06:00:00+00:00"]),
    ("0 0 0 * * ?", "2024-01-01T00:00:00+00:00", "UTC",  # strictly after
     ["2024-01-02T00:00:00+00:00"]),
    ("0 0 0 * * ?", "2023-12-31T23:59:59.999000+00:00", "UTC",
     ["2024-01-01T00:00:00+00:00"]),
    # --- L, W, #, nL ---------------------------------------------------------------------------
    ("0 15 10 L * ?", "2024-01-31T10:15:00+00:00", "UTC",
     ["2024-02-29T10:15:00+00:00", "2024-03-31T10:15:00+00:00", "2024-04-30T10:15:00+00:00"]),
    ("0 0 0 L-2 * ?", "2023-01-01T00:00:00+00:00", "UTC",
     ["2023-01-29T00:00:00+00:00", "2023-02-26T00:00:00+00:00", "2023-03-29T00:00:00+00:00"]),
    ("0 0 0 LW * ?", "2024-08-01T00:00:00+00:00", "UTC",  # Aug 31 is a Saturday, Nov 30 too
     ["2024-08-30T00:00:00+00:00", "2024-09-30T00:00:00+00:00", "2024-10-31T00:00:00+00:00",
      "2024-11-29T00:00:00+00:00"]),
    ("0 0 0 15W * ?", "2024-06-01T00:00:00+00:00", "UTC",  # Jun 15 Sat -> 14th; Sep 15 Sun -> 16th
     ["2024-06-14T00:00:00+00:00", "2024-07-15T00:00:00+00:00", "2024-08-15T00:00:00+00:00",
      "2024-09-16T00:00:00+00:00"]),
    ("0 0 0 1W * ?", "2024-05-15T00:00:00+00:00", "UTC",  # Jun 1 Sat -> Mon 3rd, not May 31
     ["2024-06-03T00:00:00+00:00", "2024-07-01T00:00:00+00:00", "2024-08-01T00:00:00+00:00"]),
    ("0 0 0 ? * 6#3", "2024-01-01T00:00:00+00:00", "UTC",  # third Friday
     ["2024-01-19T00:00:00+00:00", "2024-02-16T00:00:00+00:00", "2024-03-15T00:00:00+00:00"]),
    ("0 0 0 ? * MON#5", "2024-01-01T00:00:00+00:00", "UTC",  # fifth Monday, skipping months
     ["2024-01-29T00:00:00+00:00", "2024-04-29T00:00:00+00:00", "2024-07-29T00:00:00+00:00"]),
    ("0 0 0 ? * 6L", "2024-01-01T00:00:00+00:00", "UTC",  # last Friday
     ["2024-01-26T00:00:00+00:00", "2024-02-23T00:00:00+00:00", "2024-03-29T00:00:00+00:00"]),
    ("0 0 0 ? * L", "2024-01-01T00:00:00+00:00", "UTC",  # bare L in day-of-week: Saturday
     ["2024-01-06T00:00:00+00:00", "2024-01-13T00:00:00+00:00"]),
    # --- schedules that end ----------------------------------------------------------------------
    ("0 0 12 29 2 ?", "2024-03-01T00:00:00+00:00", "UTC",
     ["2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"]),
    ("0 0 0 30 2 ?", "2024-01-01T00:00:00+00:00", "UTC", []),
    ("0 0 0 1 1 ? 2020", "2021-01-01T00:00:00+00:00", "UTC", []),
    ("0 0 0 * * ? 2099", "2099-12-30T12:00:00+00:00", "UTC", ["2099-12-31T00:00:00+00:00"]),
    ("0 0 0 0W * ?", "2024-01-10T00:00:00+00:00", "UTC", []),  # Quartz loops forever here
    # --- fixed offsets -----------------------------------------------------------------------------
    ("0 0 9 * * ?", "2024-01-01T00:00:00+00:00", "GMT+8",
     ["2024-01-01T09:00:00+08:00", "2024-01-02T09:00:00+08:00"]),
    ("0 0 9 * * ?", "2024-01-01T00:00:00+00:00", "GMT-05:30",
     ["2024-01-01T09:00:00-05:30"]),
    # --- DST: Europe/Berlin (02:00 -> 03:00 on 2024-03-31, 03:00 -> 02:00 on 2024-10-27) --------
    ("0 30 2 * * ?", "2024-03-30T00:00:00+00:00", "Europe/Berlin",  # Mar 31 is lost
     ["2024-03-30T02:30:00+01:00", "2024-04-01T02:30:00+02:00"]),
    ("0 0 * * * ?", "2024-03-31T00:30:00+01:00", "Europe/Berlin",
     ["2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T04:00:00+02:00"]),
    ("0 30 2 * * ?", "2024-10-26T00:00:00+00:00", "Europe/Berlin",  # the second 02:30
     ["2024-10-26T02:30:00+02:00", "2024-10-27T02:30:00+01:00", "2024-10-28T02:30:00+01:00"]),
    ("0 0 * * * ?", "2024-10-27T00:30:00+02:00", "Europe/Berlin",  # 02:00+02:00 is skipped
     ["2024-10-27T01:00:00+02:00", "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"]),
    # --- DST: America/New_York fall back at 02:00 EDT on 2024-11-03 ------------------------------
    ("0 30 1 * * ?", "2024-11-02T01:30:00-04:00", "America/New_York",
     ["2024-11-03T01:30:00-05:00", "2024-11-04T01:30:00-05:00"]),
    # --- DST: America/Sao_Paulo, midnight does not exist on 2018-11-04 -------------------------
    ("0 0 0 * * ?", "2018-11-02T12:00:00-03:00", "America/Sao_Paulo",
     ["2018-11-03T00:00:00-03:00", "2018-11-05T00:00:00-02:00", "2018-11-06T00:00:00-02:00"]),
    # --- DST: Australia/Lord_Howe, 02:00 -> 02:30 (+10:30 -> +11:00) on 2024-10-06 --------------
    ("0 15 2 * * ?", "2024-10-05T02:15:00+10:30", "Australia/Lord_Howe",
     ["2024-10-07T02:15:00+11:00", "2024-10-08T02:15:00+11:00"]),
    ("0 0 0 * * ?", "2024-04-06T12:00:00+08:00", "Asia/Shanghai",
     ["2024-04-07T00:00:00+08:00"]),
]  # fmt: skip


@pytest.mark.parametrize(("expr", "after", "tz", "expected"), ROWS)
def test_fire_times(expr: str, after: str, tz: str, expected: list[str]) -> None:
    count = max(len(expected), 1) + (0 if expected else 2)
    result = next_fire_times(expr, datetime.fromisoformat(after), count, tz)
    assert [t.isoformat() for t in result[: len(expected)]] == expected
    if not expected:
        assert result == []
    for t in result:
        assert t.tzinfo is not None and t.microsecond == 0


def test_results_are_in_requested_zone_and_strictly_increasing() -> None:
    result = next_fire_times("0 0/7 * * * ?", datetime(2024, 3, 31, tzinfo=UTC), 50, "Europe/Berlin")
    assert len(result) == 50
    assert all(str(t.tzinfo) == "Europe/Berlin" for t in result)
    assert all(a < b for a, b in itertools.pairwise(result))


def test_after_instant_matters_not_its_zone() -> None:
    utc = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    shifted = utc.astimezone(timezone(timedelta(hours=-7)))
    expected = next_fire_times("0 0 * * * ?", utc, 3, "Asia/Shanghai")
    assert next_fire_times("0 0 * * * ?", shifted, 3, "Asia/Shanghai") == expected


def test_next_after_chains_like_fire_times() -> None:
    cron = parse_cron("0 0 0 ? * 2#1")
    first = cron.next_after(datetime(2024, 1, 1, tzinfo=UTC), "UTC")
    assert first is not None
    assert first.isoformat() == "2024-01-01T00:00:00+00:00" or first.day <= 7
    second = cron.next_after(first, UTC)
    assert second == next_fire_times("0 0 0 ? * 2#1", datetime(2024, 1, 1, tzinfo=UTC), 2, "UTC")[1]
    assert parse_cron("0 0 0 1 1 ? 2020").next_after(datetime(2024, 1, 1, tzinfo=UTC), "UTC") is None


@pytest.mark.parametrize("bad_after", [datetime(2024, 1, 1), datetime(2024, 1, 1, 12, 30)])
def test_naive_after_is_rejected(bad_after: datetime) -> None:
    with pytest.raises(ValueError, match="naive"):
        next_fire_times("0 0 0 * * ?", bad_after, 1, "UTC")
    with pytest.raises(ValueError, match="naive"):
        parse_cron("0 0 0 * * ?").next_after(bad_after, UTC)


def test_bad_zone_and_count() -> None:
    after = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown time zone"):
        next_fire_times("0 0 0 * * ?", after, 1, "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="count"):
        next_fire_times("0 0 0 * * ?", after, -1, "UTC")
    assert next_fire_times("0 0 0 * * ?", after, 0, "UTC") == []


def _best_of(runs: int, fn: object) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def test_thousand_daily_fire_times_are_fast() -> None:
    after = datetime(2024, 1, 1, tzinfo=UTC)
    result = next_fire_times("0 0 0 * * ? *", after, 1000, "Europe/Berlin")
    assert len(result) == 1000 and result[-1].date().isoformat() == "2026-09-27"
    # The target is well under 100 ms; the bound is loose so a busy CI machine does not flake,
    # but a second-by-second search (hundreds of times slower) would still fail it.
    assert _best_of(3, lambda: next_fire_times("0 0 0 * * ? *", after, 1000, "Europe/Berlin")) < 0.4


@pytest.mark.parametrize("expr", ["0 0 0 30 2 ?", "0 0 0 31 4,6,9,11 ?", "0 0 0 ? * 9#3", "0 0 0 0W * ?"])
def test_schedules_without_fire_times_return_quickly(expr: str) -> None:
    after = datetime(1970, 1, 1, tzinfo=UTC)
    assert _best_of(1, lambda: next_fire_times(expr, after, 5, "America/New_York")) < 2.0
    assert next_fire_times(expr, after, 5, "America/New_York") == []
    assert parse_cron(expr).next_after(after, "UTC") is None


def test_expression_is_frozen_and_hashable() -> None:
    a, b = parse_cron("0 0 12 ? * MON-FRI"), parse_cron("0 0 12 ? * MON-FRI")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert isinstance(a, CronExpression) and str(a) == "0 0 12 ? * MON-FRI"
    with pytest.raises(AttributeError):
        a.expression = "0 0 0 * * ?"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expr", "after"),
    [
        ("0 0 0 * * ? 2147483647", datetime(2098, 1, 1, tzinfo=UTC)),  # a year Quartz never reaches
        ("0 0 0 * * ? 2050-2147483647", datetime(2101, 1, 1, tzinfo=UTC)),
        ("0 0 0 * * ?", datetime(9999, 12, 31, tzinfo=UTC)),  # past Quartz's year-2999 guard
        ("0 0 0 0W * ?", datetime(1, 1, 1, tzinfo=UTC)),  # lenient day 0 reaches year 0
    ],
)
def test_extreme_years_give_no_fire_time_instead_of_overflowing(expr: str, after: datetime) -> None:
    assert next_fire_times(expr, after, 3, "America/New_York") == []


def test_huge_year_range_keeps_firing_until_the_limit() -> None:
    result = next_fire_times("0 0 0 31 12 ? 2097-2147483647", datetime(2000, 1, 1, tzinfo=UTC), 5, "UTC")
    assert [t.year for t in result] == [2097, 2098, 2099]
