"""The EnOS ``pagination`` block (spec 2.6): page base per version, camel or snake sorters."""

from __future__ import annotations

from dataclasses import dataclass

from flowyard.api.envelope import V20
from flowyard.api.limits import MAX_PAGE_NO, MAX_SORTERS
from flowyard.api.wire import Reader
from flowyard.errors import InvalidParameterError

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Page:
    index: int  # 0-based, whatever the version
    size: int
    sorters: list[tuple[str, bool]]  # (snake_case column, descending)


def canonical_field(name: str) -> str:
    """``updateTime`` and ``update_time`` name the same column: ``update_time``."""
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def parse_page(body: Reader, version: str, allowed: tuple[str, ...], bad_field_message: str) -> Page:
    """Read ``body.pagination``; absent means the first page of 10 (section 6 item 5)."""
    block = body.object("pagination")
    if block is None:
        return Page(0, DEFAULT_PAGE_SIZE, [])
    base = 0 if version == V20 else 1
    number = block.int("pageNo", base)
    if number > MAX_PAGE_NO:
        raise InvalidParameterError(f"Invalid parameter: pagination.pageNo must be at most {MAX_PAGE_NO}")
    # V2.1 pages start at 1; a 0 from a client that follows the zh docs means the first page.
    index = number - base if number >= base else 0 if (version != V20 and number == 0) else -1
    if index < 0:
        raise InvalidParameterError(f"Invalid parameter: pagination.pageNo must be >= {base}")
    size = block.int("pageSize", DEFAULT_PAGE_SIZE)
    if not 0 < size <= MAX_PAGE_SIZE:
        raise InvalidParameterError(
            f"Invalid parameter: pagination.pageSize must be between 1 and {MAX_PAGE_SIZE}"
        )
    sorters: list[tuple[str, bool]] = []
    listed = block.list("sorters") or []
    if len(listed) > MAX_SORTERS:
        raise InvalidParameterError(f"Invalid parameter: pagination.sorters may list at most {MAX_SORTERS}")
    for sorter in block.items("sorters"):
        field = canonical_field(sorter.str("field"))
        if field not in allowed:
            raise InvalidParameterError(bad_field_message)
        order = sorter.str("order", "ASC").upper()
        if order not in ("ASC", "DESC"):
            raise InvalidParameterError("Invalid parameter: sorter order must be ASC or DESC")
        sorters.append((field, order == "DESC"))
    return Page(index, size, sorters)
