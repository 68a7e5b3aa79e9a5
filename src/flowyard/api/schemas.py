"""Typed descriptions of every EnOS operation's request: its query parameters and its JSON body.

Each :class:`~flowyard.api.context.Operation` names one of these (``Operation.body`` and
``Operation.query``); ``flowyard.api.openapi`` renders them into the published document, so the
document lists exactly what the handlers read. The handlers themselves still read through the
tolerant :class:`~flowyard.api.wire.Reader` (ids as strings, JSON in strings, snake_case aliases),
which accepts a superset of what these models describe. Examples are the seed pages' samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    type: str = "string"
    required: bool = False
    description: str = ""

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "integer":
            out |= {"minimum": 1, "maximum": 2**53 - 1}
        return out


FLOW_ID = QueryParam("flowId", "integer", True, "the flow's id")
FLOW_INST_ID = QueryParam("flowInstId", required=True, description="a flow instance id")
TASK_INST_ID = QueryParam("taskInstId", required=True, description="a task instance id")
MAX_LENGTH = QueryParam("maxLength", "integer", description="characters of the log to return (default 2^20)")
EXPRESSION = QueryParam("expression", description="part of a flow name or id (at most 256 characters)")
SEARCH_VALUE = QueryParam("searchValue", description="alias of expression")


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class Sorter(_Body):
    field: str = Field(examples=["create_time"])
    order: str = Field("ASC", pattern="^(ASC|DESC|asc|desc)$")


class Pagination(_Body):
    pageNo: int = Field(1, ge=0, le=1_000_000)
    pageSize: int = Field(10, ge=1, le=1000)
    sorters: list[Sorter] = Field(default_factory=list, max_length=10)


class Parameter(_Body):
    key: str
    value: str = ""


class RunMode(_Body):
    taskMode: int = Field(1, ge=1, le=2)
    cpu: float = Field(0.5, ge=0.1, le=2)
    memory: float = Field(1.0, ge=0.3, le=4)
    maxParallel: int = Field(0, ge=0)
    keyType: int = Field(0, ge=0, le=2)


class Task(_Body):
    name: str = Field(min_length=1, max_length=255, examples=["task_1"])
    type: str = Field("COMMAND", examples=["SHELL"])
    cmd: str = Field("", examples=["echo hello"])
    resource: str = "default"
    syncType: int = 1
    timeout: int = Field(0, ge=0, le=2_678_400)
    retryLimit: int = Field(0, ge=0, le=100)
    retryInterval: int = Field(0, ge=0, le=86_400)
    successCode: str = Field("0", examples=["0,1"])
    runMode: RunMode | str | None = None


class Relation(_Body):
    sourceTaskName: str
    targetTaskName: str
    rerun: bool = True


class FlowLink(_Body):
    linkId: str
    sourceFlowName: str | None = None


class TaskLink(_Body):
    linkId: str
    sourceFlowName: str | None = None
    sourceTaskName: str | None = None


class LinkRelation(_Body):
    linkId: str
    targetTaskName: str
    rerun: bool = False


class FlowDefinition(_Body):
    """Import Flow's ``flowJson`` (spec 4.17), also accepted as a string holding it."""

    cycle: str = Field("D", examples=["D"])
    cron: str = Field("", examples=["0 0 0 * * ? *"])
    type: int = Field(0, ge=0, le=2)
    parameters: list[Parameter] | list[str] | str = Field("[]", examples=["[]"])
    tasks: list[Task] = Field(default_factory=list, max_length=100_000)
    relations: list[Relation] = Field(default_factory=list)
    flowLinks: list[FlowLink] = Field(default_factory=list)
    taskLinks: list[TaskLink] = Field(default_factory=list)
    linkRelations: list[LinkRelation] = Field(default_factory=list)


class ImportFlow(_Body):
    flowName: str = Field(min_length=1, max_length=255, examples=["demo_flow"])
    dirId: str = Field(examples=["7c0c1f3e9b2a4d5e8f6a7b8c9d0e1f2a"])
    desc: str = ""
    flowId: int | None = Field(None, ge=1, le=2**53 - 1)
    flowJson: FlowDefinition | str


class GraphTask(_Body):
    taskId: int
    taskName: str | None = None
    nodeId: str = ""
    x: float = 0
    y: float = 0


class GraphFlow(_Body):
    flowId: int
    flowName: str = ""
    nodeId: str = ""
    isVirtual: bool = False


class GraphEdge(_Body):
    source: str = Field(examples=["t_100001"])
    target: str = Field(examples=["t_100002"])
    rerun: bool = True
    cycleGap: str = ""


class SaveFlow(_Body):
    id: int | str
    type: int = Field(ge=0, le=2)
    name: str
    freq: str = Field(examples=["0 0 0 * * ? *"])
    cycle: str = Field(examples=["D"])
    alertMode: int = Field(0, ge=0, le=3)
    doAs: str = ""
    owners: str = ""
    visitors: str = ""
    active: int = 0
    parameters: list[Parameter] | list[str] | str | None = None
    tasks: list[GraphTask] | None = None
    flows: list[GraphFlow] | None = None
    relations: list[GraphEdge] | None = None


class SearchFlows(_Body):
    expression: str = Field("", max_length=256)
    pagination: Pagination | None = None


class FlowRef(_Body):
    flowId: int = Field(ge=1, le=2**53 - 1)


class MoveFlow(FlowRef):
    """Move Flow, a Flowyard extension (EnOS has no move): the flow goes into directory ``dirId``."""

    dirId: str = Field(min_length=1, examples=["7c0c1f3e9b2a4d5e8f6a7b8c9d0e1f2a"])


class Trigger(FlowRef):
    triggerTime: int = Field(ge=0, le=253402300799999, examples=[1574385824000])


class TriggerFromTask(Trigger):
    taskId: int = Field(ge=1)


class UpdateAndTrigger(Trigger):
    """Seed sample: ``{"flowId":3377,"triggerTime":1574385824000,"parameters":[{"key":"REPLACE",
    "value":"ddee"}]}``; ``["key=value"]`` is accepted as well."""

    parameters: list[Parameter] | list[str] | str = Field(examples=[[{"key": "REPLACE", "value": "ddee"}]])


class CancelInstance(_Body):
    flowInstId: str = Field(min_length=1)


class SearchInstances(_Body):
    type: int = Field(ge=0, le=2)
    expression: str = Field("", max_length=256)
    owner: str = Field("", max_length=256)
    fromTriggerTime: int | None = Field(None, ge=0, le=253402300799999)
    toTriggerTime: int | None = Field(None, ge=0, le=253402300799999)
    status: list[int] | str | None = None
    pagination: Pagination | None = None


class CreateDirectory(_Body):
    parentId: str = Field(min_length=1)
    dirName: str = Field(min_length=1, max_length=255, examples=["reports"])
