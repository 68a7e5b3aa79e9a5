from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowyard.timezones import server_zone


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
