"""Instance identifiers and the business date (flowyard.domain.instances, spec sections 1.2 and 1.3).

Suffixes are always the trigger time in UTC, whatever zone the datetime carries;
the business date (``calDt``) is the trigger date in the server zone minus one day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flowyard.domain.flows import Cycle
from flowyard.domain.instances import (
    business_date,
    flow_instance_id,
    manual_suffix,
    scheduled_suffix,
    suffix_of,
    task_instance_id,
)

CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def test_manual_suffix_matches_the_spec_sample() -> None:
    # Spec sample: flowInstanceId 3377-20200706062600 for triggerTime 1594016819108.
    trigger_at = datetime.fromtimestamp(1594016819108 / 1000, tz=UTC)
    assert trigger_at == datetime(2020, 7, 6, 6, 26, 59, 108000, tzinfo=UTC)
    assert manual_suffix(trigger_at) == "20200706062600"
    assert flow_instance_id(3377, manual_suffix(trigger_at)) == "3377-20200706062600"


@pytest.mark.parametrize(
    ("trigger_at", "suffix"),
    [
        # the same instant in a non-UTC zone: the suffix is UTC, seconds are zeroed
        (datetime(2020, 7, 6, 14, 26, 59, tzinfo=CST), "20200706062600"),
        (datetime(2020, 7, 6, 14, 26, 59, tzinfo=SHANGHAI), "20200706062600"),
        (datetime(2020, 7, 6, 14, 26, 0, tzinfo=CST), "20200706062600"),
        (datetime(2020, 7, 6, 14, 26, 59, 999999, tzinfo=CST), "20200706062600"),
        # the local date differs from the UTC date
        (datetime(2024, 1, 1, 7, 59, 30, tzinfo=SHANGHAI), "20231231235900"),
        (datetime(2024, 3, 1, 0, 5, tzinfo=CST), "20240229160500"),
        # west of UTC: the UTC date is the next day
        (datetime(2024, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))), "20250101010000"),
        # the second 02:30 of the Berlin fall-back night is 01:30 UTC, the first one 00:30 UTC
        (datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN), "20241027013000"),
        (datetime(2024, 10, 27, 2, 30, fold=0, tzinfo=BERLIN), "20241027003000"),
    ],
)
def test_manual_suffix(trigger_at: datetime, suffix: str) -> None:
    assert manual_suffix(trigger_at) == suffix
    assert len(suffix) == 14


def test_two_manual_triggers_in_one_minute_collide() -> None:
    # the documented 1-minute repeat rule rests on this collision
    first = datetime(2024, 5, 1, 8, 0, 1, tzinfo=UTC)
    second = datetime(2024, 5, 1, 16, 0, 59, tzinfo=CST)  # 08:00:59 UTC
    third = datetime(2024, 5, 1, 8, 1, 0, tzinfo=UTC)
    assert flow_instance_id(7, manual_suffix(first)) == flow_instance_id(7, manual_suffix(second))
    assert manual_suffix(third) != manual_suffix(first)


# 2024-03-05 07:08:09 in Shanghai is 2024-03-04 23:08:09 UTC: every suffix must show the UTC date.
TICK = datetime(2024, 3, 5, 7, 8, 9, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("cycle", "suffix"),
    [
        (Cycle.MINUTE, "202403042308"),
        (Cycle.HOUR, "2024030423"),
        (Cycle.DAY, "20240304"),
        (Cycle.WEEK, "20240304"),
        (Cycle.MONTH, "20240304"),
    ],
)
def test_scheduled_suffix_per_cycle(cycle: Cycle, suffix: str) -> None:
    assert scheduled_suffix(TICK, cycle) == suffix
    assert scheduled_suffix(TICK.astimezone(UTC), cycle) == suffix


@pytest.mark.parametrize("cycle", list(Cycle))
def test_full_scheduled_suffix_is_fourteen_digits_whatever_the_cycle(cycle: Cycle) -> None:
    assert scheduled_suffix(TICK, cycle, full=True) == "20240304230809"


@pytest.mark.parametrize(
    ("cycle", "length"),
    [(Cycle.MINUTE, 12), (Cycle.HOUR, 10), (Cycle.DAY, 8), (Cycle.WEEK, 8), (Cycle.MONTH, 8)],
)
def test_scheduled_suffix_lengths(cycle: Cycle, length: int) -> None:
    suffix = scheduled_suffix(datetime(2024, 1, 1, tzinfo=UTC), cycle)
    assert len(suffix) == length
    assert suffix.isdigit()


def test_scheduled_suffixes_of_the_repeated_fall_back_hour_differ() -> None:
    # Hourly ticks 01:00 CEST and 02:00 CET of the Berlin fall-back night are two hours apart in UTC.
    before = datetime(2024, 10, 27, 1, 0, tzinfo=BERLIN)
    after = datetime(2024, 10, 27, 2, 0, fold=1, tzinfo=BERLIN)
    assert scheduled_suffix(before, Cycle.HOUR) == "2024102623"
    assert scheduled_suffix(after, Cycle.HOUR) == "2024102701"


def test_a_cron_finer_than_its_cycle_collides_without_full() -> None:
    # two ticks in the same UTC day of a D-cycle flow: the service falls back to full=True
    morning = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)
    evening = datetime(2024, 6, 1, 18, 0, tzinfo=UTC)
    assert scheduled_suffix(morning, Cycle.DAY) == scheduled_suffix(evening, Cycle.DAY)
    assert scheduled_suffix(morning, Cycle.DAY, full=True) != scheduled_suffix(evening, Cycle.DAY, full=True)


def test_ids_and_suffix_round_trip() -> None:
    suffix = "20200706062600"
    assert flow_instance_id(3377, suffix) == "3377-20200706062600"
    assert task_instance_id(51, suffix) == "51-20200706062600"
    assert suffix_of("3377-20200706062600") == suffix
    assert suffix_of(task_instance_id(51, suffix)) == suffix
    assert suffix_of(flow_instance_id(3377, "2024030423")) == "2024030423"


@pytest.mark.parametrize(
    ("trigger_at", "cal_dt"),
    [
        # 20:00 UTC is 04:00 the next day in Shanghai: local date 2024-05-02, calDt 2024-05-01
        (datetime(2024, 5, 1, 20, 0, tzinfo=UTC), date(2024, 5, 1)),
        # 15:59 UTC is still 23:59 on May 1 in Shanghai
        (datetime(2024, 5, 1, 15, 59, tzinfo=UTC), date(2024, 4, 30)),
        (datetime(2024, 5, 1, 16, 0, tzinfo=UTC), date(2024, 5, 1)),
        # the zone of the argument does not matter, only the instant
        (datetime(2024, 5, 2, 4, 0, tzinfo=CST), date(2024, 5, 1)),
        (datetime(2024, 5, 1, 22, 0, tzinfo=BERLIN), date(2024, 5, 1)),  # 20:00 UTC
        # month, leap-day and year boundaries
        (datetime(2024, 3, 1, 0, 30, tzinfo=SHANGHAI), date(2024, 2, 29)),
        (datetime(2023, 3, 1, 0, 30, tzinfo=SHANGHAI), date(2023, 2, 28)),
        (datetime(2024, 1, 1, 0, 0, tzinfo=SHANGHAI), date(2023, 12, 31)),
        (datetime(2023, 12, 31, 16, 0, tzinfo=UTC), date(2023, 12, 31)),
    ],
)
def test_business_date_in_shanghai(trigger_at: datetime, cal_dt: date) -> None:
    assert business_date(trigger_at, SHANGHAI) == cal_dt


def test_business_date_depends_on_the_server_zone() -> None:
    trigger_at = datetime(2024, 5, 1, 20, 0, tzinfo=UTC)
    assert business_date(trigger_at, SHANGHAI) == date(2024, 5, 1)
    assert business_date(trigger_at, UTC) == date(2024, 4, 30)
    assert business_date(trigger_at, ZoneInfo("America/New_York")) == date(2024, 4, 30)
