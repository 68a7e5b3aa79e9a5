"""Property: for any valid definition x, Export(Import(x)) == x (server-assigned fields aside).

The definitions include Flowyard's FlowSpec keys (``timeZone``, ``scheduleStartTime``/``EndTime``,
``rerunMode``, ``failureStrategy``, ``instanceMode``; task ``nodeId``, ``rerunMode``), which are
stored in ``flows.options`` and rendered only when set.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import World, make_world

names = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and bool(s.strip()))
small = st.integers(min_value=0, max_value=3600)
run_mode = st.builds(
    lambda cpu, mem: json.dumps(
        {
            "taskMode": 1,
            "cpu": cpu,
            "memory": mem,
            "maxParallel": 0,
            "keyType": 0,
            "datasourceId": 0,
            "path": "",
            "content": "",
        },
        separators=(",", ":"),
    ),
    st.sampled_from([0.1, 0.5, 1, 1.5, 2]),
    st.sampled_from([0.3, 1, 2.5, 4]),
)


# Flowyard refuses NUL in any text field at the API edge (PostgreSQL text cannot hold one).
def plain_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=max_size
    )


def _optional(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), values.map(lambda v: {key: v}))


@st.composite
def task_options(draw: st.DrawFn) -> dict[str, Any]:
    return {
        **draw(_optional("nodeId", st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True))),
        **draw(_optional("rerunMode", st.sampled_from(["Allowed", "FailureAllowed", "Denied"]))),
    }


@st.composite
def flow_options(draw: st.DrawFn) -> dict[str, Any]:
    window = draw(
        st.sampled_from([(), ("2024-01-01 00:00:00",), ("1970-01-01 00:00:00", "9999-01-01 00:00:00")])
    )
    return {
        **draw(_optional("timeZone", st.sampled_from(["Asia/Shanghai", "GMT+8", "UTC"]))),
        **({"scheduleStartTime": window[0]} if window else {}),
        **({"scheduleEndTime": window[1]} if len(window) > 1 else {}),
        **draw(_optional("rerunMode", st.sampled_from(["FailureAllowed", "Denied"]))),
        **draw(_optional("failureStrategy", st.just("Continue"))),
        **draw(_optional("instanceMode", st.sampled_from(["T+1", "Immediately"]))),
    }


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    task_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    tasks = [
        {
            "name": n,
            "resource": draw(st.sampled_from(["default", "gpu"])),
            "type": draw(st.sampled_from(["COMMAND", "SHELL", "PYTHON", "DATA_INTEGRATION"])),
            "syncType": draw(st.sampled_from([0, 1])),
            "cmd": draw(plain_text(max_size=40)),
            "submitter": draw(plain_text(max_size=5)),
            "filePackage": "",
            "cron": "",
            "priorityLevel": draw(st.integers(0, 5)),
            "timeout": draw(small),
            "retryLimit": draw(st.integers(0, 5)),
            "retryInterval": draw(st.integers(0, 86_400)),
            "successCode": draw(st.sampled_from(["0", "0,1", "0,2,3"])),
            "asLink": draw(st.booleans()),
            "runMode": draw(run_mode),
            **draw(task_options()),
        }
        for n in task_names
    ]
    seen: set[str] = set()
    for task in tasks:  # node ids are unique within a flow
        if task.get("nodeId") in seen:
            del task["nodeId"]
        seen.add(task.get("nodeId", ""))
    pairs = [(a, b) for i, a in enumerate(task_names) for b in task_names[i + 1 :]]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=6)) if pairs else []
    params = draw(st.lists(names, unique=True, max_size=3))
    return {
        "name": "ignored",
        "cycle": draw(st.sampled_from(["M", "W", "D", "H", "mi"])),
        "cron": draw(
            st.sampled_from(["0 0 0 * * ? *", "0 1/1 * * * ? *", "59 59 23 L * ? *", "0 0 2 ? * MON-FRI"])
        ),
        "parameters": json.dumps(
            [{"key": k, "value": draw(plain_text(max_size=10))} for k in params],
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        "alertMode": draw(st.integers(0, 3)),
        "submitter": draw(plain_text(max_size=8)),
        "owners": draw(st.sampled_from(["admin", ";admin;", "admin;bob"])),
        "visitors": draw(st.sampled_from(["", ";v;"])),
        "type": draw(st.sampled_from([0, 1, 2])),
        "syncType": draw(st.sampled_from([0, 1])),
        "desc": draw(plain_text(max_size=20)),
        "startTime": draw(st.sampled_from(["", "2019-07-24", "2030-01-01"])),
        "tasks": tasks,
        "flowLinks": [],
        "taskLinks": [],
        "relations": [
            {"sourceTaskName": a, "targetTaskName": b, "rerun": draw(st.booleans())} for a, b in edges
        ],
        "linkRelations": [],
        **draw(flow_options()),
    }


SERIAL = itertools.count()


@pytest.fixture(scope="module")
def prop_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("prop")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(definition=definitions(), version=st.sampled_from(["v2.0", "v2.1"]))
def test_export_of_import_is_identity(prop_world: World, definition: dict[str, Any], version: str) -> None:
    api = prop_world.api
    name = f"prop-{next(SERIAL)}"
    if version == "v2.0":
        definition = dict(definition, alertTo="ops", appId="")
        for task in definition["tasks"]:
            task["waitCode"] = ""
    flow_id = api.import_flow(definition, name, version=version)
    exported = api.ok("GET", "flows", "export", version=version, flowId=flow_id)
    assert exported == dict(definition, name=name)
