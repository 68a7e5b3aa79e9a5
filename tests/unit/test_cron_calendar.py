"""The java.util.GregorianCalendar emulation and the zone rules underneath the cron evaluator."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flowyard.domain.cron.jcalendar import (
    JavaCalendar,
    civil_from_days,
    days_from_civil,
    last_day_of_month,
    wall_millis,
    weekday_of_days,
)
from flowyard.domain.cron.zones import resolve_zone, rules_for, zone_name

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_civil_day_numbers_match_the_standard_library() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        day = date.fromordinal(rng.randint(date(1600, 1, 1).toordinal(), date(3000, 12, 31).toordinal()))
        number = days_from_civil(day.year, day.month, day.day)
        assert number == day.toordinal() - EPOCH_ORDINAL
        assert civil_from_days(number) == (day.year, day.month, day.day)
        assert weekday_of_days(number) == day.isoweekday() % 7 + 1  # Sunday=1 .. Saturday=7


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ((2024, 11, 31, 23, 59, 60, 0), "2025-01-01T00:00:00"),  # Dec 31 23:59:60 -> New Year
        ((2024, 2, 0, 0, 0, 0, 0), "2024-02-29T00:00:00"),  # March 0 is the last day of February
        ((2024, 12, 1, 0, 0, 0, 0), "2025-01-01T00:00:00"),  # month 12 (0-based) is next January
        ((2024, 0, -2, 24, 0, 0, 0), "2023-12-30T00:00:00"),  # negative day, hour 24
        ((2023, -1, 15, 0, 0, 0, 0), "2022-12-15T00:00:00"),
    ],
)
def test_lenient_wall_time_normalisation(fields: tuple[int, ...], expected: str) -> None:
    wall = wall_millis(*fields)
    assert datetime(1970, 1, 1) + timedelta(milliseconds=wall) == datetime.fromisoformat(expected)


def test_last_day_of_month() -> None:
    assert [last_day_of_month(2, y) for y in (1900, 2000, 2023, 2024)] == [28, 29, 28, 29]
    assert last_day_of_month(4, 2024) == 30
    with pytest.raises(ValueError):
        last_day_of_month(13, 2024)


def test_gap_wall_times_move_forward_like_java() -> None:
    cal = JavaCalendar(rules_for(ZoneInfo("Europe/Berlin")), _ms("2024-03-31T00:00:00+01:00"))
    cal.set_hour(2)
    cal.set_minute(30)  # 02:30 does not exist on this day
    assert cal.time() == _ms("2024-03-31T03:30:00+02:00")
    assert (cal.get_hour(), cal.get_minute()) == (3, 30)


def test_overlap_wall_times_take_the_later_instant_even_when_set_to_the_same_value() -> None:
    first = _ms("2024-10-27T02:30:00+02:00")  # the earlier of the two 02:30s
    cal = JavaCalendar(rules_for(ZoneInfo("Europe/Berlin")), first)
    assert cal.get_hour() == 2
    cal.set_hour(2)  # a no-op value, but Java recomputes the instant from the fields
    assert cal.time() == first + 3_600_000


def test_add_years_pins_the_day_of_month() -> None:
    cal = JavaCalendar(rules_for(UTC), _ms("2024-02-29T12:00:00+00:00"))
    cal.add_years(1)
    assert (cal.get_year(), cal.get_month0(), cal.get_day()) == (2025, 1, 28)


def test_lord_howe_half_hour_dst() -> None:
    rules = rules_for(ZoneInfo("Australia/Lord_Howe"))
    winter, summer = _ms("2024-07-01T00:00:00+00:00"), _ms("2024-12-01T00:00:00+00:00")
    assert (rules.offset_at_utc(winter), rules.offset_at_utc(summer)) == (37_800_000, 39_600_000)
    gap_wall = wall_millis(2024, 9, 6, 2, 10, 0, 0)  # 02:10 on 2024-10-06 is inside the 30-min gap
    assert rules.offset_for_wall(gap_wall) == 37_800_000  # pre-transition offset -> 02:40 DST


@pytest.mark.parametrize(
    ("name", "offset", "label"),
    [
        ("GMT+8", timedelta(hours=8), "GMT+08:00"),
        ("GMT-5", timedelta(hours=-5), "GMT-05:00"),
        ("GMT+05:30", timedelta(hours=5, minutes=30), "GMT+05:30"),
        ("GMT-0930", timedelta(hours=-9, minutes=-30), "GMT-09:30"),
        ("GMT+0", timedelta(0), "GMT"),
    ],
)
def test_fixed_offset_zones(name: str, offset: timedelta, label: str) -> None:
    tz = resolve_zone(name)
    assert tz.utcoffset(None) == offset
    assert zone_name(tz) == label


def test_iana_and_invalid_zones() -> None:
    assert zone_name(resolve_zone("Asia/Shanghai")) == "Asia/Shanghai"
    assert zone_name(resolve_zone("Etc/GMT+8")) == "Etc/GMT+8"  # POSIX sign: UTC-8
    for bad in ("GMT+24", "GMT+5:60", "Nowhere/Special", "../etc/passwd", ""):
        with pytest.raises(ValueError):
            resolve_zone(bad)
