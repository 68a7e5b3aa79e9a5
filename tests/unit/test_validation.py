from __future__ import annotations

from dataclasses import replace

import pytest

from flowyard.domain.flows import (
    FlowDefinition,
    FlowLink,
    FlowType,
    LinkRelation,
    Parameter,
    RunMode,
    TaskDefinition,
    TaskLink,
    TaskRelation,
)
from flowyard.domain.validation import validate_definition
from flowyard.errors import InvalidParameterError

A = TaskDefinition(name="a")
B = TaskDefinition(name="b")
GOOD = FlowDefinition(name="f", tasks=(A, B), relations=(TaskRelation("a", "b"),))


def test_a_good_definition_passes() -> None:
    validate_definition(GOOD)
    validate_definition(FlowDefinition(name="empty"))  # a flow without tasks can be stored (not triggered)


def multi(**kw: object) -> RunMode:
    return replace(RunMode(task_mode=2, max_parallel=2, key_type=2, content="k1,k2"), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (replace(GOOD, name=" "), "flow name cannot be empty"),
        (replace(GOOD, name="x" * 256), "longer than 255"),
        (replace(GOOD, name="a\nb"), "control characters"),
        (replace(GOOD, type=FlowType.PERIODIC, cron=""), "periodic flow needs a cron"),
        (replace(GOOD, cron="0 0 0 * * *"), "invalid cron"),  # Quartz: one of day fields must be '?'
        (replace(GOOD, alert_mode=4), "alertMode must be 0, 1, 2 or 3"),
        (
            replace(GOOD, parameters=(Parameter("k", "1"), Parameter("k", "2"))),
            "parameter 'k' is given 2 times",
        ),
        (replace(GOOD, parameters=(Parameter("", "1"),)), "parameter keys cannot be empty"),
        (replace(GOOD, tasks=(A, A)), "duplicate task names: a"),
        (replace(GOOD, tasks=(replace(A, type="nope"),)), "unknown type 'nope'"),
        (replace(GOOD, tasks=(replace(A, timeout=-1),)), "timeout cannot be negative"),
        (replace(GOOD, tasks=(replace(A, retry_limit=-1),)), "retryLimit cannot be negative"),
        (replace(GOOD, tasks=(replace(A, success_code="0,x"),)), "successCode must be"),
        (replace(GOOD, tasks=(replace(A, cron="bad"),)), "invalid cron"),
        (replace(GOOD, tasks=(replace(A, run_mode=RunMode(cpu=0.05)),)), "cpu must be between 0.1 and 2"),
        (replace(GOOD, tasks=(replace(A, run_mode=RunMode(cpu=2.5)),)), "cpu must be between 0.1 and 2"),
        (
            replace(GOOD, tasks=(replace(A, run_mode=RunMode(memory=0.2)),)),
            "memory must be between 0.3 and 4",
        ),
        (
            replace(GOOD, tasks=(replace(A, run_mode=RunMode(memory=4.5)),)),
            "memory must be between 0.3 and 4",
        ),
        (replace(GOOD, tasks=(replace(A, run_mode=RunMode(task_mode=3)),)), "taskMode must be 1"),
        (replace(GOOD, tasks=(replace(A, run_mode=multi(max_parallel=0)),)), "needs maxParallel >= 1"),
        (replace(GOOD, tasks=(replace(A, run_mode=multi(content=" ")),)), "keyType 2 needs"),
        (replace(GOOD, tasks=(replace(A, run_mode=multi(key_type=1, path="")),)), "keyType 1 needs"),
        (replace(GOOD, tasks=(replace(A, run_mode=multi(key_type=0)),)), "needs keyType 1 or 2"),
        (replace(GOOD, relations=(TaskRelation("a", "zz"),)), "unknown task 'zz'"),
        (replace(GOOD, relations=(TaskRelation("a", "b"), TaskRelation("a", "b"))), "is given twice"),
        (replace(GOOD, relations=(TaskRelation("a", "a"),)), "cycle: a -> a"),
        (replace(GOOD, relations=(TaskRelation("a", "b", cycle_gap="Q1"),)), "cycleGap must look like"),
        (replace(GOOD, flow_links=(FlowLink("0", "f"),)), "cannot depend on itself"),
        (
            replace(GOOD, flow_links=(FlowLink("0", "u"),), task_links=(TaskLink("0", "u", "t"),)),
            "duplicate linkId",
        ),
        (replace(GOOD, link_relations=(LinkRelation("9", "a"),)), "unknown linkId '9'"),
        (
            replace(GOOD, flow_links=(FlowLink("0", "u"),), link_relations=(LinkRelation("0", "x"),)),
            "unknown task 'x'",
        ),
        (replace(GOOD, task_links=(TaskLink("0", "f", "a"),)), "points into this flow"),
    ],
)
def test_invalid_definitions_are_refused_with_a_message(definition: FlowDefinition, message: str) -> None:
    with pytest.raises(InvalidParameterError, match="Workflow validation failed") as info:
        validate_definition(definition)
    assert info.value.code == 62102
    assert message in info.value.message


def test_good_multiple_mode_and_gaps() -> None:
    validate_definition(replace(GOOD, tasks=(replace(A, run_mode=multi()), B)))
    validate_definition(replace(GOOD, relations=(TaskRelation("a", "b", cycle_gap="H-1"),)))
    validate_definition(replace(GOOD, cron="0 0/5 * * * ?", type=FlowType.PERIODIC))
