"""EnOS time strings, rendered in the server's time zone (spec 2.8 item 3, section 6 item 27)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


def gmt_label(zone: tzinfo, at: datetime) -> str:
    """``GMT+8``, ``GMT-5``, ``GMT+5:30`` or ``GMT+0``: the zone's offset at ``at``."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")


def fmt_datetime(value: datetime | None, zone: tzinfo) -> str:
    """``yyyy-MM-dd HH:mm:ss``; empty for a time that has not happened."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def fmt_timestamp(value: datetime | None, zone: tzinfo) -> str:
    """``yyyy-MM-dd HH:mm:ss.0`` (Java ``Timestamp.toString()``), used for create and update times."""
    return f"{fmt_datetime(value, zone)}.{(value.microsecond // 100000) if value else 0}" if value else ""


def to_epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)
