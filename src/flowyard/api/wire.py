"""Tolerant readers for EnOS request values (spec section 2.8).

EnOS clients send ids as numbers or strings, JSON documents inside strings,
and snake_case spellings of camelCase fields. :class:`Reader` accepts all of
that and turns anything else into a 62102 whose message names the field by
its path (``flowJson.tasks[2].timeout``). Handlers never see raw JSON.
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flowyard.api.limits import load_json
from flowyard.errors import InvalidParameterError

MAX_INT = 2**63 - 1
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def bad(path: str, problem: str) -> InvalidParameterError:
    return InvalidParameterError(f"Invalid parameter: {path} {problem}")


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object, within the limits of :mod:`flowyard.api.limits`."""
    if not raw.strip():
        return {}
    try:
        value = load_json(raw, "")
    except InvalidParameterError:
        raise
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterError("Invalid request body.") from None
    if not isinstance(value, dict):
        raise InvalidParameterError("Invalid request body.")
    return value


def to_int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise bad(path, "must be an integer")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}(\.0+)?\s*", value):
        result = int(float(value)) if "." in value else int(value)
    else:
        raise bad(path, "must be an integer")
    if abs(result) > MAX_INT:
        raise bad(path, "is out of range")
    return result


def to_float(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise bad(path, "must be a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            raise bad(path, "must be a number") from None
    else:
        raise bad(path, "must be a number")
    if not math.isfinite(result):
        raise bad(path, "must be a finite number")
    return result


def to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "0", "1"):
        return value.lower() in ("true", "1")
    raise bad(path, "must be true or false")


def to_str(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise bad(path, "must be a string")


def to_date(value: Any, path: str) -> date | None:
    text = to_str(value, path).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise bad(path, "must be a date yyyy-MM-dd") from None


def embedded_json(value: Any, path: str) -> Any:
    """A JSON document sent either as itself or serialised inside a string."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return load_json(value, path)
        except InvalidParameterError:
            raise
        except ValueError:
            raise bad(path, "must be JSON or a string holding JSON") from None
    return value


class Reader:
    """Reads fields of one JSON object, by camelCase name or its snake_case alias."""

    def __init__(self, data: Any, path: builtins.str = "body") -> None:
        if not isinstance(data, Mapping):
            raise bad(path, "must be a JSON object")
        self.data: Mapping[builtins.str, Any] = data
        self.path = path

    def at(self, name: builtins.str) -> builtins.str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: builtins.str, *aliases: builtins.str) -> Any:
        for key in (name, snake(name), *aliases):
            if key in self.data and self.data[key] is not None:
                return self.data[key]
        return None

    def has(self, name: builtins.str, *aliases: builtins.str) -> builtins.bool:
        return self.raw(name, *aliases) is not None

    def required(self, name: builtins.str, *aliases: builtins.str) -> Any:
        value = self.raw(name, *aliases)
        if value is None:
            raise InvalidParameterError(f"Invalid parameter: {self.at(name)} is required")
        return value

    def str(
        self, name: builtins.str, default: builtins.str | None = None, *aliases: builtins.str
    ) -> builtins.str:
        value = self.raw(name, *aliases)
        if value is None:
            if default is None:
                raise InvalidParameterError(f"Invalid parameter: {self.at(name)} is required")
            return default
        return to_str(value, self.at(name))

    def opt_str(self, name: builtins.str, *aliases: builtins.str) -> builtins.str | None:
        value = self.raw(name, *aliases)
        return None if value is None else to_str(value, self.at(name))

    def int(
        self, name: builtins.str, default: builtins.int | None = None, *aliases: builtins.str
    ) -> builtins.int:
        value = self.raw(name, *aliases)
        if value is None or value == "":
            if default is None:
                raise InvalidParameterError(f"Invalid parameter: {self.at(name)} is required")
            return default
        return to_int(value, self.at(name))

    def opt_int(self, name: builtins.str, *aliases: builtins.str) -> builtins.int | None:
        value = self.raw(name, *aliases)
        return None if value is None or value == "" else to_int(value, self.at(name))

    def float(self, name: builtins.str, default: builtins.float) -> builtins.float:
        value = self.raw(name)
        return default if value is None or value == "" else to_float(value, self.at(name))

    def bool(self, name: builtins.str, default: builtins.bool, *aliases: builtins.str) -> builtins.bool:
        value = self.raw(name, *aliases)
        return default if value is None else to_bool(value, self.at(name))

    def list(self, name: builtins.str, *aliases: builtins.str) -> builtins.list[Any] | None:
        """A list, also accepted as a string holding a JSON list; None when absent."""
        value = embedded_json(self.raw(name, *aliases), self.at(name))
        if value is None:
            return None
        if not isinstance(value, list):
            raise bad(self.at(name), "must be a list")
        return value

    def object(self, name: builtins.str, *aliases: builtins.str) -> Reader | None:
        """A nested object, also accepted as a string holding a JSON object; None when absent."""
        value = embedded_json(self.raw(name, *aliases), self.at(name))
        return None if value is None else Reader(value, self.at(name))

    def items(self, name: builtins.str, *aliases: builtins.str) -> builtins.list[Reader]:
        """Each element of a list of objects, as a Reader; [] when absent."""
        values = self.list(name, *aliases) or []
        return [Reader(item, f"{self.at(name)}[{i}]") for i, item in enumerate(values)]
