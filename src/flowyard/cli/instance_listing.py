"""One page of List Flow Instances over several scheduling types, merged and paged client-side.

The API filters on one scheduling type per call; ``instances list`` without
``--type`` asks each type and merges the answers here, sorted as the server
would sort them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import click

from flowyard.client import FlowyardClient

from .output import cell

__all__ = ["client_sort_keys", "list_instances", "merge_listings"]

# First page of List Flow Instances per API version (spec 2.6), needed to page a merged listing.
_FIRST_PAGE: Final = {"v2.0": 0, "v2.1": 1}
# Where a sort field's value lives in a FlowInstance, for merging listings client-side.
_SORT_KEYS: Final = {
    "triggertime": "triggerTime",
    "starttime": "startTime",
    "endtime": "endTime",
    "createtime": "timestamp",
}


def client_sort_keys(sorters: Sequence[tuple[str, str]]) -> list[tuple[str, bool]]:
    """``(instance field, descending)`` per sorter, to sort instances here as the server would.

    Only the fields of :data:`_SORT_KEYS` are in the instance data (their
    ``yyyy-MM-dd HH:mm:ss`` strings sort as text); others raise UsageError.
    """
    keys: list[tuple[str, bool]] = []
    for field_name, order in sorters:
        key = _SORT_KEYS.get(field_name.replace("_", "").lower())
        if key is None:
            raise click.UsageError(
                f"--sort {field_name} needs --type: merged listings cannot be sorted by it."
            )
        keys.append((key, order == "DESC"))
    return keys


def _field_text(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda item: cell(item.get(key))


def merge_listings(
    listings: Sequence[dict[str, Any]], sorters: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The ``flowInsts`` of several List Flow Instances answers in one list ordered by ``sorters``."""
    merged: list[dict[str, Any]] = [
        item
        for data in listings
        for item in (data.get("flowInsts") or [])
        if isinstance(item, dict)  # a malformed entry is dropped rather than failing the merge
    ]
    # A stable sort per key, least significant first, gives the multi-key order.
    for key, descending in reversed(client_sort_keys(sorters)):
        merged.sort(key=_field_text(key), reverse=descending)
    return merged


def list_instances(
    client: FlowyardClient,
    flow_types: Sequence[int],
    page: int | None,
    size: int,
    sorters: Sequence[tuple[str, str]],
    **filters: Any,
) -> dict[str, Any]:
    """One page of List Flow Instances over ``flow_types``: one call for one type, else a merge.

    For several types, each type is asked for its first ``(page + 1) * size``
    instances (page counted from the first), the answers are merged by
    ``sorters`` and the page is cut from the merge; ``count`` is the sum of
    the types' counts.
    """
    if len(flow_types) == 1:
        return client.list_flow_instances(
            flow_type=flow_types[0], page_no=page, page_size=size, sorters=sorters, **filters
        )
    client_sort_keys(sorters)  # refuse an unusable sort before any request
    first = _FIRST_PAGE[client.api_version]
    index = 0 if page is None else page - first
    if index < 0:
        raise click.BadParameter(f"the first page is {first}", param_hint="--page")
    listings = [
        client.list_flow_instances(
            flow_type=flow_type, page_no=first, page_size=(index + 1) * size, sorters=sorters, **filters
        )
        for flow_type in flow_types
    ]
    count = sum(data["count"] for data in listings if isinstance(data.get("count"), int))
    merged = merge_listings(listings, sorters)
    return {"flowInsts": merged[index * size : (index + 1) * size], "count": count}
