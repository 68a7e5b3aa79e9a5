from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flowyard.timezones import log_time, server_zone


def test_the_machine_zone_is_a_real_zone_with_its_dst_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fixed offset taken from "now" would give the wrong business date half of the year.
    monkeypatch.setenv("TZ", "Europe/Berlin")
    zone = server_zone(None)
    winter = datetime(2024, 1, 15, 12, tzinfo=UTC).astimezone(zone).utcoffset()
    summer = datetime(2024, 7, 15, 12, tzinfo=UTC).astimezone(zone).utcoffset()
    assert (winter, summer) == (timedelta(hours=1), timedelta(hours=2))


def test_named_zones_and_errors() -> None:
    assert datetime(2024, 7, 1, tzinfo=UTC).astimezone(server_zone("Asia/Shanghai")).utcoffset() == timedelta(
        hours=8
    )
    assert datetime(2024, 7, 1, tzinfo=UTC).astimezone(server_zone("GMT+8")).utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError):
        server_zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Shanghai", "Sun Nov 22 16:00:00 2026 Asia/Shanghai (UTC+08:00)"),
        ("America/Havana", "Sun Nov 22 03:00:00 2026 America/Havana (UTC-05:00)"),
        ("UTC", "Sun Nov 22 08:00:00 2026 UTC (UTC+00:00)"),
    ],
)
def test_log_headers_name_the_zone_and_its_offset(zone: str, expected: str) -> None:
    at = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert log_time(at, ZoneInfo(zone)) == expected
