"""The server's time zone: named explicitly, or found from the machine.

An IANA zone (not a fixed offset) matters: business dates and cron ticks must
follow the zone's DST changes. Read when a command starts, never at import.
"""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from pathlib import Path

from flowyard.domain.cron.zones import resolve_zone


def local_zone_name() -> str:
    """The IANA name of this machine's zone, or ``"UTC"`` when it cannot be determined.

    Tries ``$TZ``, then the ``/etc/localtime`` symlink, then the name of
    ``datetime.now().astimezone().tzinfo`` (often only an abbreviation such as ``CET``).
    """
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    local = datetime.now().astimezone().tzinfo
    if local is not None:
        candidates.append(local.tzname(None) or "")
    for name in candidates:
        if name:
            try:
                resolve_zone(name)
            except ValueError:
                continue
            return name
    return "UTC"


def server_zone(name: str | None) -> tzinfo:
    """The zone ``name`` (IANA, or ``GMT+8`` style), or the machine's zone when ``name`` is None.

    Raises ValueError for an unknown name.
    """
    return resolve_zone(name or local_zone_name())


def java_date(at: datetime, zone: tzinfo) -> str:
    """``Thu Aug 08 03:22:38 UTC 2019``: the ``current time`` line of the EnOS log header."""
    local = at.astimezone(zone)
    return local.strftime("%a %b %d %H:%M:%S ") + (local.tzname() or "UTC") + local.strftime(" %Y")


def log_time(at: datetime, zone: tzinfo) -> str:
    """``Sun Nov 22 16:00:00 2026 Asia/Shanghai (UTC+08:00)``: the ``current time`` line of a task
    log header. Java's ``Date.toString`` (spec 3.12) prints an ambiguous abbreviation (``CST`` is
    China, Cuba and US Central); the log names the IANA zone and the offset instead."""
    local = at.astimezone(zone)
    offset = local.strftime("%z") or "+0000"
    name = getattr(zone, "key", None) or str(zone)
    return local.strftime("%a %b %d %H:%M:%S %Y ") + f"{name} (UTC{offset[:3]}:{offset[3:]})"
