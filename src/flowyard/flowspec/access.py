"""Checked access to the raw document tree, the key tables of the model, and registry references.

Everything that knows a FlowSpec JSON key name for a modelled field is here, so that reading
(:mod:`.convert`) and writing (:mod:`.apply`) cannot disagree about spelling.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flowyard.flowspec.errors import FlowSpecError, join_path

__all__ = [
    "EXTENSION_KEY",
    "INT_FIELDS",
    "NODE_STRATEGY_KEYS",
    "TRIGGER_KEYS",
    "VARIABLE_KEYS",
    "WORKFLOW_STRATEGY_KEYS",
    "as_list",
    "as_obj",
    "dump_extension",
    "get_int",
    "get_str",
    "is_ref",
    "load_extension",
    "read_extension",
    "read_fields",
    "ref_id",
    "resolve_ref",
]

#: The key of Flowyard's own object on a workflow or node (unknown keys are ignored by DataWorks).
EXTENSION_KEY = "flowyard"

#: (model attribute, JSON key) pairs.
TRIGGER_KEYS = (
    ("type", "type"),
    ("cron", "cron"),
    ("cycle_type", "cycleType"),
    ("timezone", "timezone"),
    ("start_time", "startTime"),
    ("end_time", "endTime"),
    ("delay_seconds", "delaySeconds"),
    ("recurrence", "recurrence"),
    ("identifier", "identifier"),
)
WORKFLOW_STRATEGY_KEYS = (
    ("timeout", "timeout"),
    ("timeout_unit", "timeoutUnit"),
    ("rerun_times", "rerunTimes"),
    ("rerun_interval_ms", "rerunInterval"),
    ("rerun_mode", "rerunMode"),
    ("failure_strategy", "failureStrategy"),
    ("priority", "priority"),
    ("instance_mode", "instanceMode"),
    ("recurrence", "recurrenceType"),
    ("max_internal_concurrency", "maxInternalConcurrency"),
    ("priority_weight_strategy", "priorityWeightStrategy"),
)
#: Flat keys on a node; the order is the order DataWorks exports write them in.
NODE_STRATEGY_KEYS = (
    ("recurrence", "recurrence"),
    ("priority", "priority"),
    ("timeout", "timeout"),
    ("timeout_unit", "timeoutUnit"),
    ("instance_mode", "instanceMode"),
    ("rerun_mode", "rerunMode"),
    ("rerun_times", "rerunTimes"),
    ("rerun_interval_ms", "rerunInterval"),
)
VARIABLE_KEYS = (("name", "name"), ("scope", "scope"), ("type", "type"), ("value", "value"))
INT_FIELDS = frozenset(
    {"delay_seconds", "timeout", "rerun_times", "rerun_interval_ms", "priority", "max_internal_concurrency"}
)

_REF = re.compile(r"^\{\{\s*([^{}]*?)\s*\}\}$")


def as_obj(value: Any, path: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else a :class:`FlowSpecError` at ``path``."""
    if not isinstance(value, dict):
        raise FlowSpecError(path, f"must be an object, got {_describe(value)}")
    return value


def as_list(value: Any, path: str) -> list[Any]:
    """``value`` if it is a JSON array (``None`` counts as empty), else a :class:`FlowSpecError`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise FlowSpecError(path, f"must be an array, got {_describe(value)}")
    return value


def get_str(obj: dict[str, Any], key: str, path: str) -> str | None:
    """``obj[key]`` as a string; numbers are accepted and turned into their decimal text (ids)."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FlowSpecError(join_path(path, key), f"must be a string, got {_describe(value)}")


def get_int(obj: dict[str, Any], key: str, path: str) -> int | None:
    """``obj[key]`` as an integer; decimal strings are accepted."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise FlowSpecError(join_path(path, key), f"must be an integer, got {_describe(value)}")


def read_fields(obj: dict[str, Any], table: tuple[tuple[str, str], ...], path: str) -> dict[str, Any]:
    """Keyword arguments for a model dataclass from the keys of ``table`` present in ``obj``."""
    return {
        attr: get_int(obj, key, path) if attr in INT_FIELDS else get_str(obj, key, path)
        for attr, key in table
    }


def dump_extension(value: dict[str, Any]) -> str | None:
    """The canonical text of an extension object (sorted keys, compact); None for an empty one."""
    if not value:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def load_extension(text: str | None) -> dict[str, Any]:
    """The object of an extension text; ``{}`` for None."""
    if text is None:
        return {}
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def read_extension(obj: dict[str, Any], path: str) -> str | None:
    """The ``flowyard`` object of ``obj`` as canonical text, or None."""
    value = obj.get(EXTENSION_KEY)
    if value is None:
        return None
    return dump_extension(as_obj(value, join_path(path, EXTENSION_KEY)))


def is_ref(value: Any) -> bool:
    """Whether ``value`` is a registry reference string (``"{{type.id}}"`` or ``"{{id}}"``)."""
    return isinstance(value, str) and _REF.match(value) is not None


def ref_id(value: str) -> str:
    """The id a reference names: ``"{{scripts.file1}}"`` → ``file1``; a bare ``"file1"`` is itself.

    The ``type.`` prefix is informational (spec §2.4); three-part references take the last segment.
    """
    match = _REF.match(value)
    inner = match[1] if match else value
    return inner.rsplit(".", 1)[-1]


def resolve_ref(body: dict[str, Any], body_path: str, registry: str, value: Any, path: str) -> Any:
    """``value`` with a registry reference replaced by the registry object it names.

    Non-string values are returned unchanged. Raises :class:`FlowSpecError` when the reference names
    nothing in ``spec.<registry>`` (for ``artifacts`` the sub-lists ``tables``/``nodeOutputs``/…).
    """
    if not isinstance(value, str):
        return value
    wanted = ref_id(value)
    entries: list[Any] = []
    if registry == "artifacts":
        for group in as_obj(body.get("artifacts") or {}, join_path(body_path, "artifacts")).values():
            entries.extend(as_list(group, join_path(body_path, "artifacts")))
    else:
        entries = as_list(body.get(registry), join_path(body_path, registry))
    for entry in entries:
        if isinstance(entry, dict) and str(entry.get("id")) == wanted:
            return entry
    raise FlowSpecError(path, f"reference {value!r} names no entry of spec.{registry}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"[:80]
