"""The documented size limits of the API edge, and JSON decoding that enforces them.

Hostile input must become a 62102 naming the field, never reach the core or the database
(README, "Limits"). What this module guards against, and why here:

* nesting deeper than :data:`MAX_JSON_DEPTH`: the JSON decoder recurses and a body of a few
  thousand brackets raises ``RecursionError``, which is caught here; a document the decoder
  accepts is measured on its (then well-formed) text;
* a lone UTF-16 surrogate (``"\\ud800"``): valid JSON, but no UTF-8 encoding exists, so the
  database driver fails on it;
* a NUL character (``"\\u0000"``): PostgreSQL text cannot hold one;
* query parameters with a NUL, for the same reason.

Both string checks run only when the raw text contains the escape that can produce them, so a
clean body (the usual case, and a 10,000-task import) costs one regular-expression scan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from flowyard.errors import InvalidParameterError

MAX_JSON_DEPTH = 64
# Search Flow and List Flow Instances ``expression``, Get My Flow ``expression``/``searchValue``,
# List Flow Instances ``owner``: they become LIKE patterns (SQLite refuses patterns over 50,000
# bytes) and no flow name or username is longer than 255 characters.
MAX_SEARCH_LENGTH = 256
MAX_SORTERS = 10
# pageNo * pageSize stays far inside a 64-bit OFFSET on every database.
MAX_PAGE_NO = 1_000_000
# Ids a client may ask for (Import's flowId) stay below 2^53 so that JavaScript clients, which
# read JSON numbers as doubles, see them exactly.
MAX_REQUESTED_ID = 2**53 - 1
MAX_RETRY_LIMIT = 100
MAX_RETRY_INTERVAL_SECONDS = 86_400
MAX_TIMEOUT_SECONDS = 31 * 86_400

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# The escapes that decode to a NUL or to a surrogate (paired or not); raw control characters
# and invalid UTF-8 are already refused by the decoder.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]', re.DOTALL)


def bad_field(path: str, problem: str) -> InvalidParameterError:
    return InvalidParameterError(f"Invalid parameter: {path or 'body'} {problem}")


def _max_depth(raw: bytes) -> int:
    depth = deepest = 0
    for byte in _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        else:
            depth -= 1
    return deepest


def _too_deep_field(raw: bytes, base: str) -> str:
    """The top-level field of ``raw`` whose value nests too deep (only called on hostile input)."""
    depth = 0
    key = ""
    last_string = ""
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token.startswith(b'"'):
            last_string = token[1:-1].decode("utf-8", errors="replace")
        elif token == b":" and depth == 1:
            key = last_string
        elif token in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                break
        elif token in (b"]", b"}"):
            depth -= 1
    field = f"{base}.{key}" if base and key else key or base
    return field


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain a lone UTF-16 surrogate"
    return None


def check_strings(value: Any, path: str) -> None:
    """62102 naming the first string (key or value) under ``value`` with a NUL or lone surrogate."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                raise bad_field(where, problem)
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                problem = _string_problem(key)
                if problem:
                    raise bad_field(child_path.encode("utf-8", "replace").decode(), f"name {problem}")
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def load_json(raw: bytes | str, path: str) -> Any:
    """Decode one JSON document within the limits; ``ValueError`` for text that is not JSON.

    ``path`` names the document in messages ("" for the request body, ``flowJson`` for a JSON
    document sent inside a string).
    """
    data = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    # Decode first: the decoder refuses malformed text in linear time and raises RecursionError
    # (not a crash) past its own depth limit; only then is the text known to be well-formed JSON,
    # on which the depth scan below is linear (an unterminated string could make it quadratic).
    try:
        value = json.loads(raw)
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _max_depth(data) > MAX_JSON_DEPTH
    if too_deep:
        raise bad_field(_too_deep_field(data, path), f"is nested deeper than {MAX_JSON_DEPTH} levels")
    if _SUSPECT_ESCAPE.search(data) or (isinstance(raw, str) and _string_problem(raw)):
        check_strings(value, path)
    return value


def check_query(pairs: Iterable[tuple[str, str]]) -> None:
    """62102 naming the first query parameter whose name or value holds a NUL."""
    for name, value in pairs:
        for text in (name, value):
            if "\x00" in text:
                raise bad_field(name.replace("\x00", "\\0"), "must not contain a NUL character")


def check_length(value: str, path: str, limit: int = MAX_SEARCH_LENGTH) -> str:
    if len(value) > limit:
        raise bad_field(path, f"is longer than {limit} characters")
    return value


def check_range(value: int, path: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise bad_field(path, f"must be between {low} and {high}")
    return value
